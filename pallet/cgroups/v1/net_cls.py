"""v1 net_cls: the class id stamped on the container's packets."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

NAME = "net_cls"


def plan(res: LinuxResources) -> Plan:
    if res.network is None or res.network.class_id is None:
        return []
    return [("net_cls.classid", str(res.network.class_id))]


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []
