"""Undo what a bench run left under its temp dir (podman's storage mounts its overlay dir there, for one)."""

from __future__ import annotations

import subprocess


def unmount_under(path: str) -> None:
    """Lazily unmount every mount at or below `path`, deepest first (`umount -R` needs `path` itself mounted)."""
    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    for mp in sorted((m for m in mps if m == path or m.startswith(path + "/")), key=len, reverse=True):
        subprocess.run(["umount", "-l", mp], capture_output=True)
