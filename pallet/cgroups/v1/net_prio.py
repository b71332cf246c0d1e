"""v1 net_prio: per-interface priorities, one write per interface."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

NAME = "net_prio"


def plan(res: LinuxResources) -> Plan:
    if res.network is None:
        return []
    return [("net_prio.ifpriomap", f"{p.name} {p.priority}") for p in res.network.priorities or ()]


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []
