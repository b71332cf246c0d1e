"""v1 cpu: shares, CFS quota/period/burst, realtime budget, idle; throttling stats."""

from __future__ import annotations

import os

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.errors import InvalidArgument
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import Throttling

NAME = "cpu"

# (resource attribute, file), in write order: the period before the quota
# and the rt period before the rt runtime, since the kernel checks each
# new value against the other's current one.
FILES: tuple[tuple[str, str], ...] = (
    ("shares", "cpu.shares"),
    ("period", "cpu.cfs_period_us"),
    ("quota", "cpu.cfs_quota_us"),
    ("burst", "cpu.cfs_burst_us"),
    ("realtime_period", "cpu.rt_period_us"),
    ("realtime_runtime", "cpu.rt_runtime_us"),
)


def plan(res: LinuxResources) -> Plan:
    c = res.cpu
    if c is None:
        return []
    out: Plan = []
    for attr, name in FILES:
        value = getattr(c, attr)
        if value:  # 0 is "unset" for all of these in the spec
            out.append((name, str(-1 if attr == "quota" and value < 0 else value)))
    if c.idle is not None:
        out.append(("cpu.idle", str(c.idle)))
    return out


def apply(res: LinuxResources, dir: str) -> list[str]:
    for name, value in plan(res):
        try:
            fs.write(dir, name, value)
        except InvalidArgument:
            if name != "cpu.rt_runtime_us":
                raise
            # A child's realtime budget must fit in its parent's, and a new
            # cgroup's parent has none unless someone gave it one.
            parent = os.path.dirname(dir)
            budget = (fs.read_optional(parent, name) or "?").strip()
            raise InvalidArgument(f"linux.resources.cpu.realtimeRuntime: {value} does not fit the parent "
                                  f"cgroup's realtime budget ({parent}/{name} is {budget})") from None
    shares = res.cpu.shares if res.cpu else None
    if shares:
        # The kernel clamps shares silently to [2, 262144]; runc reports it.
        got = fs.read_uint(dir, "cpu.shares")
        if got != shares:
            raise InvalidArgument(f"linux.resources.cpu.shares: {shares} is out of range "
                                  f"(the kernel set {got}; allowed 2..262144)")
    return []


def stats(dir: str) -> Throttling:
    from pallet.cgroups.stats import Throttling

    s = fs.read_kv(dir, "cpu.stat")
    return Throttling(periods=s.get("nr_periods", 0), throttled_periods=s.get("nr_throttled", 0),
                      throttled_time=s.get("throttled_time", 0))
