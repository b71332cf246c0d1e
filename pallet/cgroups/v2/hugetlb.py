"""v2 hugetlb: hugetlb.<size>.max; stats from .current and .events."""

from __future__ import annotations

import os

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import HugetlbStats

NAME = "hugetlb"


def plan(res: LinuxResources) -> Plan:
    return [(f"hugetlb.{h.page_size}.max", str(h.limit)) for h in res.hugepage_limits or ()]


def apply(res: LinuxResources, dir: str) -> list[str]:
    from pallet.cgroups.v1.hugetlb import check_sizes

    check_sizes(res, sizes(dir))
    fs.write_plan(dir, plan(res))
    return []


def sizes(dir: str) -> list[str]:
    return sorted({n.split(".")[1] for n in os.listdir(dir)
                   if n.startswith("hugetlb.") and n.endswith(".max") and ".rsvd." not in n})


def stats(dir: str) -> dict[str, HugetlbStats]:
    from pallet.cgroups.stats import HugetlbStats

    # v2 has no max-usage file; runc reports the limit as max there.
    return {size: HugetlbStats(usage=fs.read_uint(dir, f"hugetlb.{size}.current"),
                               max=fs.read_uint(dir, f"hugetlb.{size}.max"),
                               failcnt=fs.read_kv(dir, f"hugetlb.{size}.events").get("max", 0))
            for size in sizes(dir)}
