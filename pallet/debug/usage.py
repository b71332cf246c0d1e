"""`pallet debug usage`: a container's memory (Docker's accounting) and CPU % over an interval.

Memory as `docker stats` shows it: usage minus the inactive file cache
(v1: memory.usage_in_bytes - total_inactive_file from memory.stat; v2:
memory.current - inactive_file), because reclaimable page cache is not
what the workload needs. CPU % is the cgroup's CPU time over the wall
time of the interval: 100% is one CPU busy (v1 cpuacct.usage in ns, v2
cpu.stat usage_usec). The seed's recipe read these through `nsenter -m`,
which only works when the container mounts its own cgroup; here the
host's cgroupfs is read at the container's path.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from pallet.debug import procfs
from pallet.debug.cgroupview import HierarchyInfo, cgroup_dir, hierarchies
from pallet.errors import Unavailable

_UNLIMITED = 1 << 62   # v1 prints 9223372036854771712 for "no limit"


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


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    if text == "max":
        return None
    return int(text)


def _read_kv(path: str) -> dict[str, int]:
    out = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if value.strip().lstrip("-").isdigit():
                    out[key] = int(value)
    except OSError:
        pass
    return out


def memory_v1(d: str) -> MemorySample | None:
    usage = _read_int(os.path.join(d, "memory.usage_in_bytes"))
    if usage is None:
        return None
    stat = _read_kv(os.path.join(d, "memory.stat"))
    inactive = stat.get("total_inactive_file", 0)
    limit = _read_int(os.path.join(d, "memory.limit_in_bytes"))
    memsw = _read_int(os.path.join(d, "memory.memsw.usage_in_bytes"))
    return MemorySample(
        usage=usage - inactive if inactive < usage else usage, raw_usage=usage, inactive_file=inactive,
        limit=None if limit is None or limit >= _UNLIMITED else limit,
        swap=None if memsw is None else max(memsw - usage, 0), cgroup_dir=d, version="v1",
    )


def memory_v2(d: str) -> MemorySample | None:
    usage = _read_int(os.path.join(d, "memory.current"))
    if usage is None:
        return None
    inactive = _read_kv(os.path.join(d, "memory.stat")).get("inactive_file", 0)
    return MemorySample(
        usage=usage - inactive if inactive < usage else usage, raw_usage=usage, inactive_file=inactive,
        limit=_read_int(os.path.join(d, "memory.max")), swap=_read_int(os.path.join(d, "memory.swap.current")),
        cgroup_dir=d, version="v2",
    )


def memory_of(hs: list[HierarchyInfo], lines) -> MemorySample | None:
    d = cgroup_dir(hs, lines, "memory")
    if d is None:
        return None
    return memory_v1(d) if os.path.exists(os.path.join(d, "memory.usage_in_bytes")) else memory_v2(d)


def cpu_time_ns(d: str) -> int | None:
    """The cgroup's total CPU time in ns, on either version."""
    ns = _read_int(os.path.join(d, "cpuacct.usage"))
    if ns is not None:
        return ns
    usec = _read_kv(os.path.join(d, "cpu.stat")).get("usage_usec")
    return None if usec is None else usec * 1000


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
                 cpu_dir=cpu_dir, online_cpus=os.cpu_count() or 1)
