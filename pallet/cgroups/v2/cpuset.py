"""v2 cpuset: cpuset.cpus, cpuset.mems (empty means the parent's, no copy needed)."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.cgroups.v1 import cpuset as v1
from pallet.oci.resources import LinuxResources

NAME = "cpuset"


def plan(res: LinuxResources) -> Plan:
    return v1.plan(res)  # same files, same values


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []
