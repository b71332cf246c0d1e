"""v1 pids: pids.max. The file is the same on v2, so v2 reuses `plan`."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import PidsStats

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
    from pallet.cgroups.stats import PidsStats

    limit = (fs.read_optional(dir, "pids.max") or "max").strip()
    return PidsStats(current=fs.read_uint(dir, "pids.current"),
                     limit=0 if limit == "max" else int(limit))
