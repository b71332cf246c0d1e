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
"""

from __future__ import annotations

import os

from pallet.linux import _ctypes_lite as ctypes

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
CLONE_INTO_CGROUP = 0x200000000
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(os.uname().machine)
_SYS_CLONE3 = 435  # the same number on every architecture (asm-generic)


class CloneArgs(ctypes.Structure):
    """struct clone_args (include/uapi/linux/sched.h, CLONE_ARGS_SIZE_VER2)::

        struct clone_args {
            __aligned_u64 flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size,
                          tls, set_tid, set_tid_size, cgroup;
        };
    """

    _fields_ = [(name, ctypes.c_uint64) for name in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size",
        "tls", "set_tid", "set_tid_size", "cgroup")]


# long syscall(long number, ...), the arguments as longs
_syscall = ctypes.CDLL(None, use_errno=True).syscall
_syscall.restype = ctypes.c_long
_syscall.argtypes = [ctypes.c_long] * 6


def supported() -> bool:
    return _SYS_CLONE is not None


def _error(err: int, call: str, flags: int) -> OSError:
    names = "|".join(n for n, bit in CLONE.items() if flags & bit == bit) or "0"
    reason = os.strerror(err)
    return OSError(err, f"{call} {names}: {reason[:1].lower()}{reason[1:]}")


def clone(flags: int) -> int:
    """fork(2) with `flags` (CLONE_NEW*, never CLONE_NEWTIME): the child's pid, 0 in the child.

    clone(flags|SIGCHLD, stack=0, parent_tid=0, child_tid=0, tls=0): the same on
    x86_64 and aarch64 when the pointers are all 0."""
    while True:
        pid = _syscall(_SYS_CLONE, flags | SIGCHLD, 0, 0, 0, 0)
        if pid != -1:
            return pid
        err = ctypes.get_errno()
        if err != 4:  # EINTR
            raise _error(err, "clone", flags)


def clone_into_cgroup(flags: int, cgroup_fd: int) -> int:
    """clone3() as clone() above, the child born in the cgroup2 directory `cgroup_fd`
    (CLONE_INTO_CGROUP, Linux 5.7): no migration, so none of the RCU grace period a
    write to cgroup.procs waits for (~10 ms here). OSError ENOSYS/E2BIG on older kernels."""
    args = CloneArgs(flags=flags | CLONE_INTO_CGROUP, exit_signal=SIGCHLD, cgroup=cgroup_fd)
    while True:
        pid = _syscall(_SYS_CLONE3, ctypes.addressof(args), ctypes.sizeof(args), 0, 0, 0)
        if pid != -1:
            return pid
        err = ctypes.get_errno()
        if err != 4:  # EINTR
            raise _error(err, "clone3 CLONE_INTO_CGROUP", flags)
