"""The host's mount table, for 'which filesystem is this dir on' and overlay upper dirs."""

from __future__ import annotations

import os

from pallet.linux.proc import MountInfo, parse_mountinfo


def read_mounts(proc: str = "/proc", pid: str = "self") -> tuple[MountInfo, ...]:
    try:
        with open(os.path.join(proc, str(pid), "mountinfo")) as f:
            return tuple(parse_mountinfo(f.read()))
    except OSError:
        return ()


def _contains(mount_point: str, path: str) -> bool:
    mp = mount_point.rstrip("/")
    return mp == "" or path == mp or path.startswith(mp + "/")


def mount_of(path: str, mounts: tuple[MountInfo, ...]) -> MountInfo | None:
    """The mount a path lives on: the last mount (they stack in order) whose point contains it."""
    path = os.path.realpath(path)
    found = None
    for m in mounts:
        if _contains(m.mountpoint, path) and (found is None or len(m.mountpoint) >= len(found.mountpoint)):
            found = m
    return found


def super_option(m: MountInfo, key: str) -> str:
    prefix = key + "="
    for opt in m.super_options:
        if opt.startswith(prefix):
            return opt[len(prefix):]
    return ""


def overlay_upper_dirs(mounts: tuple[MountInfo, ...]) -> dict[str, str]:
    """Overlay mount point -> its upperdir (how a running container's writable layer is found)."""
    out = {}
    for m in mounts:
        if m.fstype == "overlay":
            upper = super_option(m, "upperdir")
            if upper:
                out[m.mountpoint] = upper
    return out
