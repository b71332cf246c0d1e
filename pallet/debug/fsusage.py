"""`pallet debug fs-usage`: each container's writable layer, its size and its filesystem.

The seed mounted each devicemapper device to read its usage; with overlay
storage the writable layer is a directory (the upper dir), so its size is
the disk blocks of the files under it (hard links counted once, as du),
and its filesystem is the mount that holds that directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pallet.debug.catalog import Catalog
from pallet.debug.mounts import mount_of, read_mounts


@dataclass(frozen=True)
class LayerUsage:
    runtime: str
    container_id: str
    name: str
    upper_dir: str       # "" when the runtime's state does not say
    size: int | None     # bytes on disk (du); None when unknown
    files: int
    apparent_size: int | None   # what `docker ps -s` shows as SIZE (file lengths, see disk_usage)
    fs_type: str
    fs_source: str
    fs_mount: str
    fs_used_percent: float | None


def disk_usage(top: str) -> tuple[int, int, int]:
    """(bytes on disk, number of entries, apparent bytes) under `top`, not following symlinks or mounts.

    Disk bytes are du's (blocks, hard links once): what fills the disk. The
    apparent size is Docker's SizeRw (moby pkg/directory.Size): the lengths
    of everything but directories, hard links once, so a 3-byte file counts
    3 where du counts a 4 KiB block.
    """
    seen: set[tuple[int, int]] = set()
    total = count = apparent = 0
    try:
        dev = os.lstat(top).st_dev
    except OSError:
        return 0, 0, 0
    stack = [top]
    while stack:
        d = stack.pop()
        try:
            entries = list(os.scandir(d))
        except OSError:
            continue
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_dev != dev:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            count += 1
            total += st.st_blocks * 512
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            else:
                apparent += st.st_size
    return total, count, apparent


def _fs_used(path: str) -> float | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    if not st.f_blocks:
        return None
    return 100.0 * (st.f_blocks - st.f_bfree) / st.f_blocks


def usage(catalog: Catalog) -> tuple[list[LayerUsage], list[str]]:
    """Every container's writable layer, largest first; and what could not be read."""
    mounts = read_mounts(catalog.paths.proc)
    out, problems = [], []
    for rt in catalog.runtimes:
        problems.extend(f"{rt}: {p}" for p in catalog.load(rt).problems)
    for r in catalog.all():
        size = files = apparent = None
        fs_type = fs_source = fs_mount = ""
        used = None
        if r.upper_dir:
            size, files, apparent = disk_usage(r.upper_dir)
            m = mount_of(r.upper_dir, mounts)
            if m:
                fs_type, fs_source, fs_mount = m.fstype, m.source, m.mountpoint
            used = _fs_used(r.upper_dir)
        out.append(LayerUsage(r.runtime, r.id, r.name, r.upper_dir, size, files or 0, apparent,
                              fs_type, fs_source, fs_mount, used))
    out.sort(key=lambda u: (u.size is None, -(u.size or 0), u.runtime, u.name))
    return out, problems
