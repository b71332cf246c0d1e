"""v1 cpuacct: cpu usage (no resources to set)."""

from __future__ import annotations

import os

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import CpuUsage

NAME = "cpuacct"
NS_PER_TICK = 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def plan(res: LinuxResources) -> Plan:
    return []


def apply(res: LinuxResources, dir: str) -> list[str]:
    return []


def _list(dir: str, name: str) -> tuple[int, ...]:
    return tuple(int(x) for x in (fs.read_optional(dir, name) or "").split())


def stats(dir: str) -> CpuUsage:
    from pallet.cgroups.stats import CpuUsage

    # cpuacct.stat counts USER_HZ ticks; runc converts them to ns.
    ticks = fs.read_kv(dir, "cpuacct.stat")
    return CpuUsage(
        total=fs.read_uint(dir, "cpuacct.usage"),
        percpu=_list(dir, "cpuacct.usage_percpu"),
        percpu_kernel=_list(dir, "cpuacct.usage_percpu_sys"),
        percpu_user=_list(dir, "cpuacct.usage_percpu_user"),
        kernel=ticks.get("system", 0) * NS_PER_TICK,
        user=ticks.get("user", 0) * NS_PER_TICK,
    )
