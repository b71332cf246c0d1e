"""seccomp(2), prctl(PR_SET_SECCOMP) and PR_SET_NO_NEW_PRIVS: load a BPF program, no policy.

The program is the raw bytes of a `struct sock_filter` array (8 bytes per
instruction, native byte order), as the compiler in pallet.runtime.seccomp
produces it. Without no_new_privs the caller needs CAP_SYS_ADMIN (EACCES).
"""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost
import errno as _errno
import os

from pallet.linux._libc import _syscall, call, flag_names, libc
from pallet.linux.prctl import set_no_new_privs  # noqa: F401  (re-exported: the seccomp caller's other half)

# seccomp(2) syscall numbers (arch/*/entry/syscalls tables).
NR_SECCOMP: dict[str, int] = {"x86_64": 317, "aarch64": 277, "i686": 354, "riscv64": 277, "s390x": 348, "ppc64le": 358}
_NR = NR_SECCOMP.get(os.uname().machine, 317)

OPERATIONS: dict[str, int] = {
    "SECCOMP_SET_MODE_STRICT": 0,
    "SECCOMP_SET_MODE_FILTER": 1,
    "SECCOMP_GET_ACTION_AVAIL": 2,
    "SECCOMP_GET_NOTIF_SIZES": 3,
}

FILTER_FLAGS: dict[str, int] = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_NEW_LISTENER": 1 << 3,
    "SECCOMP_FILTER_FLAG_TSYNC_ESRCH": 1 << 4,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}

PR_SET_SECCOMP = 22
PR_GET_SECCOMP = 21
SECCOMP_MODE_FILTER = 2


class SockFilter(ctypes.Structure):
    """struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; };"""

    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    """struct sock_fprog { unsigned short len; struct sock_filter *filter; };"""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]



def _fprog(program: bytes) -> tuple[SockFprog, ctypes.Array]:
    if len(program) % 8 or not program:
        raise ValueError(f"seccomp program of {len(program)} bytes is not a sock_filter array")
    buf = ctypes.create_string_buffer(program, len(program))
    return SockFprog(len(program) // 8, ctypes.addressof(buf)), buf


def seccomp_set_mode_filter(program: bytes, flags: int = 0) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog); returns the call's result (a listener fd with NEW_LISTENER)."""
    fprog, _keep = _fprog(program)
    return call(
        _syscall, ctypes.c_long(_NR), ctypes.c_long(OPERATIONS["SECCOMP_SET_MODE_FILTER"]),
        ctypes.c_long(flags), ctypes.byref(fprog),
        what=f"seccomp SET_MODE_FILTER flags={flag_names(flags, FILTER_FLAGS)} ({len(program) // 8} instructions)",
    )


def prctl_set_seccomp_filter(program: bytes) -> None:
    """prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog): the pre-3.17 way, no flags."""
    fprog, _keep = _fprog(program)
    call(
        libc.prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0,
        what=f"prctl PR_SET_SECCOMP MODE_FILTER ({len(program) // 8} instructions)",
    )


def get_action_avail(action: int) -> bool:
    """seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action): does the kernel know this SECCOMP_RET_* action?"""
    value = ctypes.c_uint32(action)
    try:
        call(_syscall, ctypes.c_long(_NR), ctypes.c_long(OPERATIONS["SECCOMP_GET_ACTION_AVAIL"]), ctypes.c_long(0),
             ctypes.byref(value), what=f"seccomp GET_ACTION_AVAIL {action:#x}")
    except OSError as e:
        if e.errno in (_errno.EOPNOTSUPP, _errno.EINVAL):
            return False
        raise
    return True


def get_seccomp_mode() -> int:
    """prctl(PR_GET_SECCOMP): 0 none, 1 strict, 2 filter."""
    return call(libc.prctl, PR_GET_SECCOMP, 0, 0, 0, 0, what="prctl PR_GET_SECCOMP")
