"""Helpers of the cgroup integration tests: start a process inside a cgroup."""

from __future__ import annotations

import subprocess

import pytest

from pallet.linux import proc


def start_in(mgr, argv: list[str], **kw) -> subprocess.Popen:
    """Start `argv` with its pid already in the cgroup: the shell waits on
    stdin until add_pid is done, then execs argv (same pid)."""
    p = subprocess.Popen(["sh", "-c", 'read _; exec "$@"', "sh", *argv], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    try:
        mgr.add_pid(p.pid)
    except Exception:
        p.kill()
        p.wait()
        raise
    p.stdin.write("\n")
    p.stdin.close()
    p.stdin = None  # communicate() must not flush it again
    return p


def cpu_ticks(pid: int) -> int:
    s = proc.read_stat(pid)
    return s.utime + s.stime


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.kill()
    p.communicate()


def hugetlb_on_unified() -> bool:
    """Whether the cgroup2 mount owns hugetlb: not while a v1 hugetlb hierarchy is mounted
    (peers-baseline.sh mounts one for crun; a controller lives in one hierarchy at a time)."""
    try:
        with open("/sys/fs/cgroup/unified/cgroup.controllers") as f:
            return "hugetlb" in f.read().split()
    except OSError:
        return False


requires_unified_hugetlb = pytest.mark.skipif(
    not hugetlb_on_unified(), reason="hugetlb is not on the cgroup2 mount (a v1 hugetlb hierarchy is mounted)")
