"""`pallet debug usage`: a container's memory (Docker's accounting) and CPU % over an interval.

Memory as `docker stats` shows it: usage minus the inactive file cache
(pallet.cgroups.memory_accounting, over the v1/v2 memory stats readers of
pallet.cgroups), because reclaimable page cache is not what the workload
needs. CPU % is the cgroup's CPU time over the wall
time of the interval: 100% is one CPU busy (v1 cpuacct.usage in ns, v2
cpu.stat usage_usec). The seed's recipe read these through `nsenter -m`,
which only works when the container mounts its own cgroup; here the
host's cgroupfs is read at the container's path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from pallet.cgroups import memory_accounting
from pallet.cgroups.v1 import cpuacct as v1_cpuacct
from pallet.cgroups.v1 import memory as v1_memory
from pallet.cgroups.v2 import cpu as v2_cpu
from pallet.cgroups.v2 import memory as v2_memory
from pallet.debug import procfs
from pallet.debug.cgroupview import HierarchyInfo, cgroup_dir, hierarchies
from pallet.errors import Unavailable

@dataclass(frozen=True)
class MemorySample:
    usage: int            # what Docker shows: raw usage minus inactive file cache
    raw_usage: int
    inactive_file: int
    limit: int | None     # None: unlimited
    swap: int | None      # None: not accounted here
    cgroup_dir: str
    version: str


@dataclass(frozen=True)
class Usage:
    pid: int
    memory: MemorySample | None
    cpu_percent: float | None
    interval: float
    cpu_dir: str
    online_cpus: int
    host_memory: int | None = None   # MemTotal: Docker's limit and MEM % base when unlimited


def host_memory(proc: str = "/proc") -> int | None:
    """MemTotal in bytes (dockerd caps a container's reported limit at it: daemon machineMemory)."""
    try:
        with open(os.path.join(proc, "meminfo")) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _sample(d: str, mem, swap: int | None) -> MemorySample:
    key = "total_inactive_file" if mem.version == "v1" else "inactive_file"
    limit = mem.usage.limit
    return MemorySample(
        usage=memory_accounting.usage(mem), raw_usage=mem.usage.usage, inactive_file=mem.raw.get(key, 0),
        limit=None if not limit or limit >= memory_accounting.UNLIMITED else limit,
        swap=swap, cgroup_dir=d, version=mem.version,
    )


def memory_v1(d: str) -> MemorySample | None:
    if not os.path.exists(os.path.join(d, "memory.usage_in_bytes")):
        return None
    mem = v1_memory.stats(d)
    # memsw exists only with swap accounting; it counts memory + swap
    has_memsw = os.path.exists(os.path.join(d, "memory.memsw.usage_in_bytes"))
    return _sample(d, mem, max(mem.swap.usage - mem.usage.usage, 0) if has_memsw else None)


def memory_v2(d: str) -> MemorySample | None:
    if not os.path.exists(os.path.join(d, "memory.current")):
        return None
    mem = v2_memory.stats(d)
    # runc's (and pallet.cgroups') v2 swap entry is memory + swap, like v1's memsw
    has_swap = os.path.exists(os.path.join(d, "memory.swap.current"))
    return _sample(d, mem, max(mem.swap.usage - mem.usage.usage, 0) if has_swap else None)


def memory_of(hs: list[HierarchyInfo], lines) -> MemorySample | None:
    d = cgroup_dir(hs, lines, "memory")
    if d is None:
        return None
    return memory_v1(d) if os.path.exists(os.path.join(d, "memory.usage_in_bytes")) else memory_v2(d)


def cpu_time_ns(d: str) -> int | None:
    """The cgroup's total CPU time in ns, on either version."""
    if os.path.exists(os.path.join(d, "cpuacct.usage")):
        return v1_cpuacct.stats(d).total
    if os.path.exists(os.path.join(d, "cpu.stat")):
        return v2_cpu.stats(d)[0].total
    return None


def usage(pid: int, interval: float, proc: str = "/proc", sleep=time.sleep) -> Usage:
    hs = hierarchies(proc)
    try:
        lines = procfs.cgroups(pid, proc)
    except OSError as exc:
        raise Unavailable(f"process {pid}: cannot read its cgroup: {exc.strerror}") from None
    cpu_dir = cgroup_dir(hs, lines, "cpuacct") or cgroup_dir(hs, lines, "cpu") or ""
    cpu_percent = None
    if cpu_dir and interval > 0:
        t0, c0 = time.monotonic_ns(), cpu_time_ns(cpu_dir)
        sleep(interval)
        t1, c1 = time.monotonic_ns(), cpu_time_ns(cpu_dir)
        if c0 is not None and c1 is not None and t1 > t0:
            cpu_percent = (c1 - c0) * 100.0 / (t1 - t0)
    # memory after the interval: the freshest figure
    return Usage(pid=pid, memory=memory_of(hs, lines), cpu_percent=cpu_percent, interval=interval,
                 cpu_dir=cpu_dir, online_cpus=os.cpu_count() or 1, host_memory=host_memory(proc))
