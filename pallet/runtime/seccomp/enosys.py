"""runc's ENOSYS stub for a program that libseccomp compiled. Pure.

libseccomp gives every syscall the profile does not name the default
action, so under Docker's profile (default EPERM) a call newer than the
profile would read as a refusal and libc would not fall back to an older
one. runc (libcontainer/seccomp/patchbpf) prepends a stub: per listed
architecture, a syscall numbered above the largest one the profile names
returns ENOSYS. Our own compiler (bpf.py) builds the same rule into its
ranges; this module gives the libseccomp backend the same behaviour:

    ld  arch
    jeq ARCH_1 -> S1 ... jeq ARCH_n -> Sn
    ja  FILTER
    Si: ld nr
        [x86_64: jset 0x40000000 -> X32]      x32 calls carry the bit
        [s390/s390x: jeq 0 -> ENOSYS]         unknown "large" syscalls multiplex as 0
        jgt LAST_i -> ENOSYS / FILTER
    X32: jgt LAST_x32 -> ENOSYS / FILTER      (without x32 in the profile: -> FILTER)
    ENOSYS: ret ERRNO(ENOSYS)
    FILTER: the libseccomp program

The comparisons are unsigned, as runc's: nr -1 (what syscall(-1) asks)
gets ENOSYS, as it would from the kernel without a filter.
"""

from __future__ import annotations

import errno
import struct

from pallet.oci.seccomp import ACTIONS, ARCHES

_INSN = struct.Struct("=HBBI")
LD_ABS, JA, JEQ, JGT, JSET, RET = 0x20, 0x05, 0x15, 0x25, 0x45, 0x06
OFF_NR, OFF_ARCH = 0, 4
X32_BIT = 0x40000000
ENOSYS_ACTION = ACTIONS["SCMP_ACT_ERRNO"] | errno.ENOSYS
_S390 = (ARCHES["SCMP_ARCH_S390"], ARCHES["SCMP_ARCH_S390X"])


def stub(last: dict[int, int], x32_last: int | None = None) -> bytes:
    """The prefix for {AUDIT_ARCH: largest syscall number the profile names} (and x32's, bit
    included, when the profile lists it); empty for no arch."""
    if x32_last is not None and ARCHES["SCMP_ARCH_X86_64"] not in last:
        last = {**last, ARCHES["SCMP_ARCH_X86_64"]: X32_BIT - 1}  # x32 alone: the native numbers stay as they are
    if not last:
        return b""
    arches = list(last)
    sections: list[list[tuple]] = []
    for arch in arches:
        body: list[tuple] = [("ld", OFF_NR)]
        if arch == ARCHES["SCMP_ARCH_X86_64"]:
            body.append(("jset", X32_BIT, "X32" if x32_last is not None else "FILTER", None))
        if arch in _S390:
            body.append(("jeq", 0, "ENOSYS", None))
        body.append(("jgt", last[arch], "ENOSYS", "FILTER"))
        sections.append(body)
    prog: list[tuple] = [("ld", OFF_ARCH)]
    prog += [("jeq", arch, f"S{i}", None) for i, arch in enumerate(arches)]
    prog.append(("ja", "FILTER"))
    labels: dict[str, int] = {}
    for i, body in enumerate(sections):
        labels[f"S{i}"] = len(prog)
        prog += body
    if x32_last is not None:
        labels["X32"] = len(prog)
        prog.append(("jgt", x32_last, "ENOSYS", "FILTER"))
    labels["ENOSYS"] = len(prog)
    prog.append(("ret", ENOSYS_ACTION))
    labels["FILTER"] = len(prog)
    return b"".join(_encode(pc, insn, labels) for pc, insn in enumerate(prog))


def _encode(pc: int, insn: tuple, labels: dict[str, int]) -> bytes:
    def rel(target: str | None) -> int:
        off = 0 if target is None else labels[target] - pc - 1
        if not 0 <= off <= 255:
            raise ValueError(f"seccomp stub: jump of {off} at {pc}")  # a handful of arches never gets here
        return off

    kind = insn[0]
    if kind == "ld":
        return _INSN.pack(LD_ABS, 0, 0, insn[1])
    if kind == "ret":
        return _INSN.pack(RET, 0, 0, insn[1])
    if kind == "ja":
        return _INSN.pack(JA, 0, 0, labels[insn[1]] - pc - 1)
    op = {"jeq": JEQ, "jgt": JGT, "jset": JSET}[kind]
    return _INSN.pack(op, rel(insn[2]), rel(insn[3]), insn[1])
