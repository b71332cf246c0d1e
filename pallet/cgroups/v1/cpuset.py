"""v1 cpuset: cpus and mems.

A new v1 cpuset starts with empty cpus and mems, and a task can't join
it until both are set: `inherit` copies the parent's at each level.
"""

from __future__ import annotations

import os

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import CPUSET_FLAGS, CpusetStats, parse_list

NAME = "cpuset"


def plan(res: LinuxResources) -> Plan:
    c = res.cpu
    if c is None:
        return []
    out: Plan = []
    # mems before cpus is arbitrary; both are checked against the parent.
    if c.cpus:
        out.append(("cpuset.cpus", c.cpus))
    if c.mems:
        out.append(("cpuset.mems", c.mems))
    return out


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []


def inherit(dir: str) -> None:
    parent = os.path.dirname(dir)
    for name in ("cpuset.cpus", "cpuset.mems"):
        if not (fs.read_optional(dir, name) or "").strip():
            fs.write(dir, name, (fs.read(parent, name)).strip())


def stats(dir: str) -> CpusetStats:
    from pallet.cgroups.stats import CPUSET_FLAGS, CpusetStats, parse_list

    flags = []
    for name in CPUSET_FLAGS:
        text = fs.read_optional(dir, f"cpuset.{name}")
        if text is not None and text.strip():
            flags.append((name, int(text)))
    return CpusetStats(cpus=parse_list(fs.read_optional(dir, "cpuset.cpus") or ""),
                       mems=parse_list(fs.read_optional(dir, "cpuset.mems") or ""), flags=tuple(flags))
