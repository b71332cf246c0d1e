"""Disk usage of containers: writable layer (upper dir) and virtual size."""

from __future__ import annotations

import os


def dir_usage(path: str) -> int:
    total = 0
    seen = set()
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def container_size(env, st) -> tuple[int, int]:
    """(writable layer bytes, virtual bytes = image + writable)."""
    if st.row.snapshot:
        try:
            from pallet.engine import images

            rw = images.container_rootfs_usage(env.images, st.row.snapshot).size
            base = _image_size(env, st.config.image_id)
            return rw, rw + base
        except Exception:  # snapshot gone (a crash): report zero rather than fail a listing
            return 0, 0
    size = dir_usage(st.config.rootfs_dir) if st.config.rootfs_dir else 0
    return 0, size


def _image_size(env, image_id: str) -> int:
    cache = env.__dict__.setdefault("_image_sizes", {})
    if image_id not in cache:
        from pallet.engine import images

        cache.update({s.id: s.size for s in images.list_images(env.images, all=True)})
    return cache.get(image_id, 0)
