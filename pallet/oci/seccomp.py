"""`linux.seccomp` of the OCI runtime spec as frozen dataclasses.

`Seccomp.from_json(d)` validates the document and names the bad field in a
one-line InvalidArgument ("linux.seccomp.syscalls[3].action: 'SCMP_ACT_FOO'
is not a known action"). The names are the spec's; their numeric values
(which are the kernel's, include/uapi/linux/seccomp.h and audit.h) live in
the tables below so the compiler and the installer share one source.

What the model does not decide: whether a syscall *name* exists (that needs
the syscall table of an architecture; the compiler warns and skips unknown
names, as runc does) and whether NOTIFY is supported (the compiler refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~4 ms)

if TYPE_CHECKING:
    from typing import Any

from pallet.errors import InvalidArgument

PREFIX = "linux.seccomp"

U64_MAX = (1 << 64) - 1

# Actions: spec name -> SECCOMP_RET_* base value (the low 16 bits carry the
# errno of ERRNO and the message of TRACE). KILL is KILL_THREAD, as in runc.
ACTIONS: dict[str, int] = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}

# Comparison operators: spec name -> libseccomp's enum scmp_compare.
OPERATORS: dict[str, int] = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# Architectures: spec name -> AUDIT_ARCH_* (the value of seccomp_data.arch).
ARCHES: dict[str, int] = {
    "SCMP_ARCH_X86": 0x40000003,
    "SCMP_ARCH_X86_64": 0xC000003E,
    "SCMP_ARCH_X32": 0x4000003E,  # AUDIT_ARCH_X86_64 without __AUDIT_ARCH_64BIT: libseccomp's token
    "SCMP_ARCH_ARM": 0x40000028,
    "SCMP_ARCH_AARCH64": 0xC00000B7,
    "SCMP_ARCH_MIPS": 0x00000008,
    "SCMP_ARCH_MIPS64": 0x80000008,
    "SCMP_ARCH_MIPS64N32": 0xA0000008,
    "SCMP_ARCH_MIPSEL": 0x40000008,
    "SCMP_ARCH_MIPSEL64": 0xC0000008,
    "SCMP_ARCH_MIPSEL64N32": 0xE0000008,
    "SCMP_ARCH_PPC": 0x00000014,
    "SCMP_ARCH_PPC64": 0x80000015,
    "SCMP_ARCH_PPC64LE": 0xC0000015,
    "SCMP_ARCH_S390": 0x00000016,
    "SCMP_ARCH_S390X": 0x80000016,
    "SCMP_ARCH_PARISC": 0x0000000F,
    "SCMP_ARCH_PARISC64": 0x8000000F,
    "SCMP_ARCH_RISCV64": 0xC00000F3,
}

# Filter flags: spec name -> SECCOMP_FILTER_FLAG_* (seccomp(2)).
FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}

ERRNO_MAX = 0xFFFF  # SECCOMP_RET_DATA is 16 bits


def _bad(path: str, value: Any, why: str) -> InvalidArgument:
    return InvalidArgument(f"{path}: {value!r} {why}")


def _uint(value: Any, path: str, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, value, "is not an integer")
    if value < 0:
        raise _bad(path, value, "is negative")
    if value > maximum:
        raise _bad(path, value, f"is above {maximum}")
    return value


def _name(value: Any, path: str, table: dict[str, int], what: str) -> str:
    if not isinstance(value, str):
        raise _bad(path, value, "is not a string")
    if value not in table:
        raise _bad(path, value, f"is not a known {what} (one of {', '.join(table)})")
    return value


def _list(value: Any, path: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad(path, value, "is not a list")
    return value


def _object(value: Any, path: str) -> dict:
    if not isinstance(value, dict):
        raise _bad(path, value, "is not an object")
    return value


@dataclass(frozen=True)
class ArgCondition:
    """One `args[]` entry: compare syscall argument `index` (0..5) with `value`.

    For SCMP_CMP_MASKED_EQ, `value` is the mask and `value_two` the expected
    result: (arg & value) == value_two, as runc and libseccomp read it.
    """

    index: int
    value: int
    op: str
    value_two: int = 0

    @classmethod
    def from_json(cls, d: Any, path: str) -> "ArgCondition":
        d = _object(d, path)
        if "index" not in d:
            raise InvalidArgument(f"{path}.index: missing")
        if "op" not in d:
            raise InvalidArgument(f"{path}.op: missing")
        return cls(
            index=_uint(d["index"], f"{path}.index", 5),
            value=_uint(d.get("value", 0), f"{path}.value", U64_MAX),
            value_two=_uint(d.get("valueTwo", 0), f"{path}.valueTwo", U64_MAX),
            op=_name(d["op"], f"{path}.op", OPERATORS, "operator"),
        )

    def to_json(self) -> dict:
        return {"index": self.index, "value": self.value, "valueTwo": self.value_two, "op": self.op}


@dataclass(frozen=True)
class SyscallRule:
    """One `syscalls[]` entry: `action` for every name, when all `args` hold."""

    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[ArgCondition, ...] = ()

    @classmethod
    def from_json(cls, d: Any, path: str) -> "SyscallRule":
        d = _object(d, path)
        names = _list(d.get("names"), f"{path}.names")
        if not names:
            raise InvalidArgument(f"{path}.names: missing or empty")
        for i, n in enumerate(names):
            if not isinstance(n, str) or not n:
                raise _bad(f"{path}.names[{i}]", n, "is not a syscall name")
        if "action" not in d:
            raise InvalidArgument(f"{path}.action: missing")
        errno_ret = d.get("errnoRet")
        return cls(
            names=tuple(names),
            action=_name(d["action"], f"{path}.action", ACTIONS, "action"),
            errno_ret=None if errno_ret is None else _uint(errno_ret, f"{path}.errnoRet", ERRNO_MAX),
            args=tuple(ArgCondition.from_json(a, f"{path}.args[{i}]") for i, a in enumerate(_list(d.get("args"), f"{path}.args"))),
        )

    def to_json(self) -> dict:
        out: dict[str, Any] = {"names": list(self.names), "action": self.action}
        if self.errno_ret is not None:
            out["errnoRet"] = self.errno_ret
        if self.args:
            out["args"] = [a.to_json() for a in self.args]
        return out


@dataclass(frozen=True)
class Seccomp:
    """The whole `linux.seccomp` object."""

    default_action: str
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    syscalls: tuple[SyscallRule, ...] = ()
    listener_path: str = ""
    listener_metadata: str = ""

    @classmethod
    def from_json(cls, d: Any, path: str = PREFIX) -> "Seccomp":
        d = _object(d, path)
        if "defaultAction" not in d:
            raise InvalidArgument(f"{path}.defaultAction: missing")
        der = d.get("defaultErrnoRet")
        for key in ("listenerPath", "listenerMetadata"):
            if not isinstance(d.get(key, ""), str):
                raise _bad(f"{path}.{key}", d[key], "is not a string")
        return cls(
            default_action=_name(d["defaultAction"], f"{path}.defaultAction", ACTIONS, "action"),
            default_errno_ret=None if der is None else _uint(der, f"{path}.defaultErrnoRet", ERRNO_MAX),
            architectures=tuple(
                _name(a, f"{path}.architectures[{i}]", ARCHES, "architecture")
                for i, a in enumerate(_list(d.get("architectures"), f"{path}.architectures"))
            ),
            flags=tuple(
                _name(f, f"{path}.flags[{i}]", FLAGS, "flag") for i, f in enumerate(_list(d.get("flags"), f"{path}.flags"))
            ),
            syscalls=tuple(
                SyscallRule.from_json(s, f"{path}.syscalls[{i}]")
                for i, s in enumerate(_list(d.get("syscalls"), f"{path}.syscalls"))
            ),
            listener_path=d.get("listenerPath", ""),
            listener_metadata=d.get("listenerMetadata", ""),
        )

    def to_json(self) -> dict:
        out: dict[str, Any] = {"defaultAction": self.default_action}
        if self.default_errno_ret is not None:
            out["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            out["architectures"] = list(self.architectures)
        if self.flags:
            out["flags"] = list(self.flags)
        if self.listener_path:
            out["listenerPath"] = self.listener_path
        if self.listener_metadata:
            out["listenerMetadata"] = self.listener_metadata
        out["syscalls"] = [s.to_json() for s in self.syscalls]
        return out
