"""v1 hugetlb: hugetlb.<size>.limit_in_bytes (size spelled like OCI's pageSize, 2MB)."""

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
    return [(f"hugetlb.{h.page_size}.limit_in_bytes", str(h.limit)) for h in res.hugepage_limits or ()]


def check_sizes(res: LinuxResources, available: list[str]) -> None:
    """A page size the host lacks is named as the spec's field, not a missing file."""
    from pallet.errors import Unavailable

    for i, h in enumerate(res.hugepage_limits or ()):
        if h.page_size not in available:
            raise Unavailable(f"linux.resources.hugepageLimits[{i}].pageSize: {h.page_size} is not a huge "
                              f"page size of this host ({', '.join(available) or 'none'})")


def apply(res: LinuxResources, dir: str) -> list[str]:
    check_sizes(res, sizes(dir))
    fs.write_plan(dir, plan(res))
    return []


def sizes(dir: str) -> list[str]:
    return sorted({n.split(".")[1] for n in os.listdir(dir) if n.startswith("hugetlb.") and n.endswith(".limit_in_bytes")})


def stats(dir: str) -> dict[str, HugetlbStats]:
    from pallet.cgroups.stats import HugetlbStats

    return {size: HugetlbStats(usage=fs.read_uint(dir, f"hugetlb.{size}.usage_in_bytes"),
                               max=fs.read_uint(dir, f"hugetlb.{size}.max_usage_in_bytes"),
                               failcnt=fs.read_uint(dir, f"hugetlb.{size}.failcnt"))
            for size in sizes(dir)}
