"""Cgroup statistics as frozen dataclasses, the same on v1 and v2.

`Stats.to_json()` has the shape of runc's `events --stats` data (runc
types/events.go): the same keys, and runc's `omitempty` rule (a zero
number or empty list is left out) where runc applies it, so the two can
be compared field by field. Units: cpu in nanoseconds, memory in bytes.
"""

from __future__ import annotations

from types import MappingProxyType

from pallet.values import frozen

# Values are runtime_spec.frozen classes (no dataclasses import on the
# runtime's path); an empty mapping default is read-only, so no instance
# can change another's.
EMPTY: MappingProxyType = MappingProxyType({})


def _omit_empty(d: dict, keep: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in d.items() if k in keep or v not in (0, None, [], {}, "")}


@frozen
class CpuUsage:
    total: int = 0
    percpu: tuple[int, ...] = ()
    percpu_kernel: tuple[int, ...] = ()
    percpu_user: tuple[int, ...] = ()
    kernel: int = 0
    user: int = 0

    def to_json(self) -> dict:
        return _omit_empty({
            "total": self.total, "percpu": list(self.percpu),
            "percpu_kernel": list(self.percpu_kernel), "percpu_user": list(self.percpu_user),
            "kernel": self.kernel, "user": self.user,
        }, keep=("kernel", "user"))


@frozen
class Throttling:
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0  # ns

    def to_json(self) -> dict:
        return _omit_empty({"periods": self.periods, "throttledPeriods": self.throttled_periods,
                            "throttledTime": self.throttled_time})


@frozen
class CpuStats:
    usage: CpuUsage = CpuUsage()
    throttling: Throttling = Throttling()

    def to_json(self) -> dict:
        return {"usage": self.usage.to_json(), "throttling": self.throttling.to_json()}


@frozen
class MemoryEntry:
    limit: int = 0
    usage: int = 0
    max: int = 0
    failcnt: int = 0

    def to_json(self) -> dict:
        return _omit_empty({"limit": self.limit, "usage": self.usage, "max": self.max,
                            "failcnt": self.failcnt}, keep=("limit", "failcnt"))


@frozen
class MemoryStats:
    """Memory of a cgroup. `raw` is memory.stat as is (v1 or v2 keys);
    `cache` is v1's total_cache or v2's file; `oom_kill` counts OOM kills
    (v1 memory.oom_control oom_kill, v2 memory.events oom_kill)."""

    cache: int = 0
    usage: MemoryEntry = MemoryEntry()
    swap: MemoryEntry = MemoryEntry()
    kernel: MemoryEntry = MemoryEntry()
    kernel_tcp: MemoryEntry = MemoryEntry()
    raw: dict[str, int] = EMPTY
    oom_kill: int = 0
    under_oom: bool = False
    version: str = "v1"   # which keys `raw` has, for memory_accounting

    def to_json(self) -> dict:
        out = {"cache": self.cache, "usage": self.usage.to_json(), "swap": self.swap.to_json(),
               "kernel": self.kernel.to_json(), "kernelTCP": self.kernel_tcp.to_json(),
               "raw": dict(self.raw)}
        return _omit_empty(out, keep=("usage", "swap", "kernel", "kernelTCP"))


@frozen
class PidsStats:
    current: int = 0
    limit: int = 0   # 0 = no limit ("max"), as runc reports it

    def to_json(self) -> dict:
        return _omit_empty({"current": self.current, "limit": self.limit})


@frozen
class BlkioEntry:
    major: int
    minor: int
    op: str       # Read, Write, Sync, Async, Discard, Total
    value: int

    def to_json(self) -> dict:
        return _omit_empty({"major": self.major, "minor": self.minor, "op": self.op, "value": self.value})


@frozen
class BlkioStats:
    io_service_bytes_recursive: tuple[BlkioEntry, ...] = ()
    io_serviced_recursive: tuple[BlkioEntry, ...] = ()

    def to_json(self) -> dict:
        return _omit_empty({
            "ioServiceBytesRecursive": [e.to_json() for e in self.io_service_bytes_recursive],
            "ioServicedRecursive": [e.to_json() for e in self.io_serviced_recursive],
        })


@frozen
class HugetlbStats:
    usage: int = 0
    max: int = 0
    failcnt: int = 0

    def to_json(self) -> dict:
        return _omit_empty({"usage": self.usage, "max": self.max, "failcnt": self.failcnt},
                           keep=("failcnt",))


def parse_list(text: str) -> tuple[int, ...]:
    """A kernel cpu/node list ("0-2,5") as numbers."""
    out: list[int] = []
    for part in text.strip().split(","):
        if part:
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi or lo) + 1))
    return tuple(out)


# v1 cpuset flag files reported by runc, in its order (all plain integers).
CPUSET_FLAGS: tuple[str, ...] = (
    "cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
    "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level",
)


@frozen
class CpusetStats:
    cpus: tuple[int, ...] = ()
    mems: tuple[int, ...] = ()
    flags: tuple[tuple[str, int], ...] = ()   # v1 only

    def to_json(self) -> dict:
        out: dict = {}
        if self.cpus:
            out["cpus"] = list(self.cpus)
        if self.mems:
            out["mems"] = list(self.mems)
        out.update(self.flags)
        return out


@frozen
class Stats:
    cpu: CpuStats = CpuStats()
    cpuset: CpusetStats = CpusetStats()
    memory: MemoryStats = MemoryStats()
    pids: PidsStats = PidsStats()
    blkio: BlkioStats = BlkioStats()
    hugetlb: dict[str, HugetlbStats] = EMPTY

    def to_json(self) -> dict:
        # intel_rdt and network_interfaces are runc's too; pallet reports
        # neither (no resctrl here; the network is the engine's business).
        return {
            "cpu": self.cpu.to_json(), "cpuset": self.cpuset.to_json(), "memory": self.memory.to_json(),
            "pids": self.pids.to_json(), "blkio": self.blkio.to_json(),
            "hugetlb": {size: h.to_json() for size, h in self.hugetlb.items()},
            "intel_rdt": {}, "network_interfaces": None,
        }
