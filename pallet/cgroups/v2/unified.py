"""`linux.resources.unified`: raw cgroup v2 files and values, written as given.

Written last, so a raw key overrides what the typed fields set (runc).
"""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.errors import Unavailable
from pallet.oci.resources import LinuxResources

NAME = "unified"


def plan(res: LinuxResources) -> Plan:
    return list(res.unified or ())


def apply(res: LinuxResources, dir: str) -> list[str]:
    for key, value in plan(res):
        if not fs.exists(dir, key):
            controller = key.split(".")[0]
            raise Unavailable(f"linux.resources.unified.{key}: no such file in {dir} "
                              f"(is the {controller} controller enabled for this cgroup?)")
        fs.write(dir, key, value)
    return []
