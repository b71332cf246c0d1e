"""v2 cpuset: cpuset.cpus, cpuset.mems (empty means the parent's, no copy needed)."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.cgroups.v1 import cpuset as v1
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import CpusetStats, parse_list

NAME = "cpuset"


def plan(res: LinuxResources) -> Plan:
    return v1.plan(res)  # same files, same values


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []


def stats(dir: str) -> CpusetStats:
    from pallet.cgroups.stats import CpusetStats, parse_list

    # What the tasks actually get: the effective lists (the configured
    # ones may be empty, meaning "the parent's").
    return CpusetStats(cpus=parse_list(fs.read_optional(dir, "cpuset.cpus.effective") or ""),
                       mems=parse_list(fs.read_optional(dir, "cpuset.mems.effective") or ""))
