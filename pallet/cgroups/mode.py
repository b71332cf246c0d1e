"""Which cgroup layout the host has: v1, hybrid or v2 (unified).

Decided by the filesystem type (statfs magic) of the mount at the cgroup
root, as runc does, not by /proc/filesystems: a kernel lists cgroup2
there even when it mounts v1 hierarchies only.
"""

from __future__ import annotations

import os

from pallet.linux.statfs import MAGIC, fs_magic

DEFAULT_ROOT = "/sys/fs/cgroup"


class CgroupMode:
    """The three layouts, as their names (str constants, not an Enum: the
    enum module is ~2 ms of every `create`; compare with `is` or ==)."""

    V1 = "v1"          # v1 hierarchies only
    HYBRID = "hybrid"  # v1 hierarchies plus a cgroup2 mount (usually ./unified)
    V2 = "v2"          # one cgroup2 hierarchy at the root


def detect(root: str = DEFAULT_ROOT) -> str:
    magic = fs_magic(root)
    if magic == MAGIC["cgroup2"]:
        return CgroupMode.V2
    unified = os.path.join(root, "unified")
    if os.path.isdir(unified) and fs_magic(unified) == MAGIC["cgroup2"]:
        return CgroupMode.HYBRID
    return CgroupMode.V1
