"""clone(2) as fork(2) plus CLONE_NEW* flags, through `_ctypes` alone; the CLONE_NEW* table.

Python's os.fork() takes no flags, so a new pid namespace otherwise costs
a second Python process (unshare, then fork: its page-table copy, its
copy-on-write faults, its exit). Here the child is born in its new
namespaces and is the container's init at once.

No new stack: like fork(2), the child continues on a copy of the
caller's. Only for a single-threaded caller (as every fork of the
runtime), and the child must end in execve or os._exit: os.fork()'s own
bookkeeping (at-fork hooks, the import lock, thread states) is skipped,
which a process with one thread and no `threading` does not need.
`_ctypes` alone, not ctypes: the runtime's parent never imports ctypes
(~3 ms) on its way to the fork.
"""

from __future__ import annotations

import _ctypes
import os

# include/uapi/linux/sched.h
CLONE: dict[str, int] = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "CLONE_NEWTIME": 0x00000080,  # clone3() only: in clone(2)'s flags these bits are the exit signal
}

# OCI namespace type -> (clone flag, /proc/<pid>/ns/<name>)
NAMESPACES: dict[str, tuple[int, str]] = {
    "user": (CLONE["CLONE_NEWUSER"], "user"),
    "pid": (CLONE["CLONE_NEWPID"], "pid"),
    "network": (CLONE["CLONE_NEWNET"], "net"),
    "ipc": (CLONE["CLONE_NEWIPC"], "ipc"),
    "uts": (CLONE["CLONE_NEWUTS"], "uts"),
    "mount": (CLONE["CLONE_NEWNS"], "mnt"),
    "cgroup": (CLONE["CLONE_NEWCGROUP"], "cgroup"),
    "time": (CLONE["CLONE_NEWTIME"], "time"),
}

SIGCHLD = 17
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)


class _Long(_ctypes._SimpleCData):
    _type_ = "l"


class _Syscall(_ctypes.CFuncPtr):
    """long syscall(long number, ...); the arguments as longs."""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Long
    _argtypes_ = (_Long, _Long, _Long, _Long, _Long, _Long)


_syscall = _Syscall(_ctypes.dlsym(_ctypes.dlopen(None), "syscall"))


def supported() -> bool:
    return _SYS_CLONE is not None


def clone(flags: int) -> int:
    """fork(2) with `flags` (CLONE_NEW*, never CLONE_NEWTIME): the child's pid, 0 in the child.

    clone(flags|SIGCHLD, stack=0, parent_tid=0, child_tid=0, tls=0): the same on
    x86_64 and aarch64 when the pointers are all 0."""
    while True:
        pid = _syscall(_SYS_CLONE, flags | SIGCHLD, 0, 0, 0, 0)
        if pid != -1:
            return pid
        err = _ctypes.get_errno()
        if err != 4:  # EINTR
            names = "|".join(n for n, bit in CLONE.items() if flags & bit == bit) or "0"
            reason = os.strerror(err)
            raise OSError(err, f"clone {names}: {reason[:1].lower()}{reason[1:]}")
