"""unshare(2) and setns(2), with the CLONE_NEW* table."""

from __future__ import annotations

from pallet.linux._libc import call, flag_names, libc

# include/uapi/linux/sched.h
CLONE: dict[str, int] = {
    "CLONE_NEWNS": 0x00020000,
    "CLONE_NEWCGROUP": 0x02000000,
    "CLONE_NEWUTS": 0x04000000,
    "CLONE_NEWIPC": 0x08000000,
    "CLONE_NEWUSER": 0x10000000,
    "CLONE_NEWPID": 0x20000000,
    "CLONE_NEWNET": 0x40000000,
    "CLONE_NEWTIME": 0x00000080,
}
globals().update(CLONE)

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


def unshare(flags: int) -> None:
    call(libc.unshare, flags, what=f"unshare {flag_names(flags, CLONE)}")


def setns(fd: int, nstype: int = 0, path: str = "") -> None:
    call(libc.setns, fd, nstype, what=f"setns {path or fd} {flag_names(nstype, CLONE)}")
