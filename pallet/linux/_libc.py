"""The C library handle and the one error convention every wrapper uses.

A failing call raises ``OSError(errno, "<op> <what>")`` so the message
names the operation, the path and the flags (ARCHITECTURE.md, convention 1).
EINTR is retried here once for all wrappers.
"""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost
import errno as _errno
import os


libc = ctypes.CDLL(None, use_errno=True)
_syscall = libc.syscall
_syscall.restype = ctypes.c_long

# Syscalls glibc 2.36 does not wrap, by machine (numbers from the kernel's
# syscall tables: arch/x86/entry/syscalls/syscall_64.tbl, include/uapi/asm-generic/unistd.h).
SYSCALL_NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {"pivot_root": 155, "keyctl": 250, "execveat": 322, "close_range": 436, "openat2": 437},
    "aarch64": {"pivot_root": 41, "keyctl": 219, "execveat": 281, "close_range": 436, "openat2": 437},
}
NR = SYSCALL_NUMBERS.get(os.uname().machine, SYSCALL_NUMBERS["x86_64"])


def strerror(err: int) -> str:
    """os.strerror in the lower case Go tools use ("no such file or directory"), like runc's messages."""
    s = os.strerror(err)
    return s[:1].lower() + s[1:]


def call(fn, *args, what: str) -> int:
    """Call a libc function returning -1 on error; retry EINTR; raise OSError naming `what`."""
    while True:
        ret = fn(*args)
        if ret != -1:
            return ret
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            raise OSError(err, f"{what}: {strerror(err)}")


def syscall(name: str, *args, what: str) -> int:
    return call(_syscall, NR[name], *args, what=what)


def flag_names(value: int, table: dict[str, int]) -> str:
    """Spell `value` as NAME|NAME using `table`; leftover bits in hex."""
    names = []
    for name, bit in table.items():
        if bit and value & bit == bit:
            names.append(name)
            value &= ~bit
    if value:
        names.append(hex(value))
    return "|".join(names) or "0"


def fsencode(path) -> bytes | None:
    return None if path is None else os.fsencode(path)
