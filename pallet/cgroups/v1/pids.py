"""v1 pids: pids.max. The file is the same on v2, so v2 reuses `plan`."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.cgroups.stats import PidsStats
from pallet.oci.resources import LinuxResources

NAME = "pids"


def plan(res: LinuxResources) -> Plan:
    # 0 is "unset" (runc), a negative limit "max".
    if res.pids is None or not res.pids.limit:
        return []
    return [("pids.max", "max" if res.pids.limit < 0 else str(res.pids.limit))]


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []


def stats(dir: str) -> PidsStats:
    limit = (fs.read_optional(dir, "pids.max") or "max").strip()
    return PidsStats(current=fs.read_uint(dir, "pids.current"),
                     limit=0 if limit == "max" else int(limit))
