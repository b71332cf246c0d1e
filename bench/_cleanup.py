"""Undo what a bench run left under its temp dir (podman's storage mounts its overlay dir there, for one)."""

from __future__ import annotations

import os
import subprocess
import time

# The cgroup parents the engines put containers under (cgroupfs drivers): podman's and pallet's.
ENGINE_PARENTS = ("libpod_parent/conmon", "libpod_parent", "pallet")


def wait_for_processes_under(path: str, timeout: float = 15.0) -> None:
    """Wait until no process names `path` on its command line: podman's conmon runs `podman container cleanup`
    after a container's exit, which may (re)mount its storage after our unmount if we don't wait for it."""
    needle = path.encode()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for d in os.listdir("/proc"):
            if d.isdigit() and int(d) != os.getpid():
                try:
                    with open(f"/proc/{d}/cmdline", "rb") as f:
                        busy = needle in f.read()
                except OSError:
                    continue
                if busy:
                    break
        if not busy:
            return
        time.sleep(0.1)


def unmount_under(path: str) -> None:
    """Lazily unmount every mount at or below `path`, deepest first (`umount -R` needs `path` itself mounted)."""
    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    for mp in sorted((m for m in mps if m == path or m.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)


def engine_parents() -> set[str]:
    """The engines' parent cgroups that exist now, in every hierarchy."""
    return {os.path.join("/sys/fs/cgroup", ctrl, sub) for ctrl in os.listdir("/sys/fs/cgroup")
            for sub in ENGINE_PARENTS if os.path.isdir(os.path.join("/sys/fs/cgroup", ctrl, sub))}


def remove_new_parents(before: set[str], timeout: float = 5.0) -> None:
    """rmdir, deepest first, the parents that appeared since `before`; the kernel refuses a busy one, so retry
    for a while (a container's cgroup may linger a moment after its last task exited)."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for d in sorted(engine_parents() - before, key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                left.append(d)
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.1)
