"""Reading /proc under a configurable root (tests fake a /proc tree for swap ranking).

The formats are parsed by pallet.linux.proc; this module only finds the files.
"""

from __future__ import annotations

import os

from pallet.linux.proc import CgroupMembership, ProcStatus, parse_proc_cgroup, parse_status


def pids(proc: str = "/proc") -> list[int]:
    return sorted(int(name) for name in os.listdir(proc) if name.isdigit())


def _read(proc: str, pid, name: str) -> str:
    with open(os.path.join(proc, str(pid), name)) as f:
        return f.read()


def status(pid, proc: str = "/proc") -> ProcStatus:
    return parse_status(_read(proc, pid, "status"))


def cgroups(pid, proc: str = "/proc") -> list[CgroupMembership]:
    return parse_proc_cgroup(_read(proc, pid, "cgroup"))


def command(pid, proc: str = "/proc") -> str:
    """The command line as lsns shows it; [comm] for kernel threads."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as f:
            raw = f.read()
        if raw:
            return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
        return "[" + _read(proc, pid, "comm").strip() + "]"
    except OSError:
        return "?"


def ns_inode(pid, nstype: str, proc: str = "/proc") -> int | None:
    """Inode of /proc/PID/ns/TYPE (what `ls -Li` shows); None if gone or unreadable."""
    try:
        return os.stat(os.path.join(proc, str(pid), "ns", nstype)).st_ino
    except OSError:
        return None


def exists(pid, proc: str = "/proc") -> bool:
    return os.path.isdir(os.path.join(proc, str(pid)))
