"""Docker's memory usage: what `docker stats` shows as MEM USAGE and MEM %.

The kernel's usage counter (v1 memory.usage_in_bytes, v2 memory.current)
includes the page cache, which the kernel drops at will under pressure;
reporting it would make every container that reads files look near its
limit. Docker (CLI >= 19.03, calculateMemUsageUnixNoCache) subtracts the
*inactive* file cache, the part the kernel reclaims first:

    v1:  usage_in_bytes - memory.stat total_inactive_file
    v2:  memory.current - memory.stat inactive_file

(v1 uses the `total_` key: it counts the whole subtree, as usage does.)
When the inactive figure is not below usage, the raw usage is shown.
Active file pages stay counted: the kernel won't drop them readily.

MEM % is that usage over the limit; an unlimited cgroup (v1's
2**63-4096, v2's "max") shows the host's memory as the limit, as dockerd
does.
"""

from __future__ import annotations

from pallet.cgroups.stats import MemoryStats

# Above this a v1/v2 limit means "no limit" (v1 prints 2**63 rounded to a page).
UNLIMITED = 2**62


def usage(mem: MemoryStats) -> int:
    """Bytes in use, without the inactive file cache."""
    key = "total_inactive_file" if mem.version == "v1" else "inactive_file"
    inactive = mem.raw.get(key)
    if inactive is not None and inactive < mem.usage.usage:
        return mem.usage.usage - inactive
    return mem.usage.usage


def limit(mem: MemoryStats, host_total: int | None = None) -> int:
    """The limit docker shows: the cgroup's, or the host's memory if unlimited."""
    value = mem.usage.limit
    if host_total and (value == 0 or value >= UNLIMITED or value > host_total):
        return host_total
    return value


def percent(mem: MemoryStats, host_total: int | None = None) -> float:
    top = limit(mem, host_total)
    return 100.0 * usage(mem) / top if top else 0.0


def host_memory() -> int:
    """MemTotal of /proc/meminfo in bytes."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0
