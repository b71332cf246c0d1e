"""Helpers of the cgroup integration tests: start a process inside a cgroup."""

from __future__ import annotations

import subprocess

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
