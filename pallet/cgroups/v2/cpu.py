"""v2 cpu: cpu.weight (from shares), cpu.max, cpu.max.burst, cpu.idle.

shares -> weight is runc's current conversion (runc >= 1.3.2 and
1.4, crun >= 1.23; runc issue #4896 shows 2000 -> 170): a quadratic in
log2 space that maps the defaults onto each other (1024 -> 100) and the
ends of the ranges (2 -> 1, 262144 -> 10000). The older linear one,
still in this host's runc 1.1.5 and crun 1.8.1, sent 1024 to 39: it is
kept as `shares_to_weight_linear` for comparing with them.
"""

from __future__ import annotations

import math

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.errors import Unavailable
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import CpuUsage, Throttling

NAME = "cpu"


def shares_to_weight(shares: int) -> int:
    if shares == 0:
        return 0
    if shares <= 2:
        return 1
    if shares >= 262144:
        return 10000
    l = math.log2(shares)
    exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0
    return int(math.ceil(10 ** exponent))


def shares_to_weight_linear(shares: int) -> int:
    """runc < 1.3.2's conversion (1 + (shares-2)*9999/262142)."""
    return 0 if shares == 0 else 1 + (shares - 2) * 9999 // 262142


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """"QUOTA PERIOD"; quota <= 0 is "max"; period omitted keeps the kernel's."""
    if not quota and not period:
        return None
    text = str(quota) if quota and quota > 0 else "max"
    return f"{text} {period}" if period else text


def plan(res: LinuxResources) -> Plan:
    c = res.cpu
    if c is None:
        return []
    out: Plan = []
    if c.shares:
        out.append(("cpu.weight", str(shares_to_weight(c.shares))))
    value = cpu_max(c.quota, c.period)
    if value:
        out.append(("cpu.max", value))
    if c.burst is not None and (c.quota or c.burst):
        out.append(("cpu.max.burst", str(c.burst)))
    if c.idle is not None:
        out.append(("cpu.idle", str(c.idle)))
    return out


def apply(res: LinuxResources, dir: str) -> list[str]:
    c = res.cpu
    if c is not None and (c.realtime_runtime or c.realtime_period):
        raise Unavailable("linux.resources.cpu.realtimeRuntime: realtime scheduling budgets "
                          "are not available on cgroup v2")
    fs.write_plan(dir, plan(res))
    return []


def stats(dir: str) -> tuple[CpuUsage, Throttling]:
    from pallet.cgroups.stats import CpuUsage, Throttling

    s = fs.read_kv(dir, "cpu.stat")
    usage = CpuUsage(total=s.get("usage_usec", 0) * 1000, kernel=s.get("system_usec", 0) * 1000,
                     user=s.get("user_usec", 0) * 1000)
    return usage, Throttling(periods=s.get("nr_periods", 0), throttled_periods=s.get("nr_throttled", 0),
                             throttled_time=s.get("throttled_usec", 0) * 1000)
