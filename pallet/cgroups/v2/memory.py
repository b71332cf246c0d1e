"""v2 memory: memory.max, memory.low, memory.swap.max.

OCI's `swap` is memory+swap (v1's memsw); v2's memory.swap.max is swap
alone, so it is `swap - limit` (runc's ConvertMemorySwapToCgroupV2Value).
v2 has no swappiness, kernel memory limit or OOM-killer switch: those
are ignored with a warning, as runc does.
"""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.errors import InvalidArgument
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import MemoryEntry, MemoryStats

NAME = "memory"
MAX = 2**64 - 1


def _v2(value: int) -> str:
    return "max" if value == -1 else str(value)


def swap_max(swap: int | None, limit: int | None) -> int | None:
    """memory.swap.max from OCI's memory+swap; None leaves it alone."""
    swap, limit = swap or 0, limit or 0
    if limit == -1 and swap == 0:
        return -1  # unlimited memory, swap unset: unlimited swap too
    if swap in (0, -1):
        return None if swap == 0 else -1
    if limit in (0, -1):
        raise InvalidArgument("linux.resources.memory.swap: a swap limit needs a memory limit")
    if swap < limit:
        raise InvalidArgument(f"linux.resources.memory.swap: {swap} is below memory.limit {limit}")
    return swap - limit


def plan(res: LinuxResources) -> Plan:
    m = res.memory
    if m is None:
        return []
    out: Plan = []
    swap = swap_max(m.swap, m.limit)
    # swap first: runc's order, so a smaller limit never leaves a window
    # where the old swap allowance applies to the new memory limit.
    if swap is not None:
        out.append(("memory.swap.max", _v2(swap)))
    if m.limit:
        out.append(("memory.max", _v2(m.limit)))
    if m.reservation:
        out.append(("memory.low", _v2(m.reservation)))
    return out


IGNORED = (("swappiness", "memory.swappiness"), ("kernel", "memory.kernel"),
           ("kernel_tcp", "memory.kernelTCP"), ("disable_oom_killer", "memory.disableOOMKiller"))


def apply(res: LinuxResources, dir: str) -> list[str]:
    m = res.memory
    warnings = [f"linux.resources.{name} is not supported on cgroup v2 and is ignored"
                for attr, name in IGNORED
                if m is not None and getattr(m, attr) not in (None, 0, -1, False)]
    p = plan(res)
    if not fs.exists(dir, "memory.swap.max"):
        if any(k == "memory.swap.max" and v not in ("max", "0") for k, v in p):
            warnings.append("memory.swap ignored: the kernel has no swap accounting")
        p = [(k, v) for k, v in p if k != "memory.swap.max"]
    fs.write_plan(dir, p)
    return warnings


def stats(dir: str) -> MemoryStats:
    from pallet.cgroups.stats import MemoryEntry, MemoryStats

    raw = fs.read_kv(dir, "memory.stat")
    events = fs.read_kv(dir, "memory.events")
    usage, limit = fs.read_uint(dir, "memory.current"), fs.read_uint(dir, "memory.max", MAX)
    swap_usage, swap_limit = fs.read_uint(dir, "memory.swap.current"), fs.read_uint(dir, "memory.swap.max", MAX)
    return MemoryStats(
        cache=raw.get("file", 0),
        usage=MemoryEntry(limit=limit, usage=usage, max=fs.read_uint(dir, "memory.peak"),
                          failcnt=events.get("max", 0)),
        # runc reports v2 swap as memory+swap, to read like v1's memsw.
        swap=MemoryEntry(limit=MAX if MAX in (swap_limit, limit) else swap_limit + limit,
                         usage=swap_usage + usage, max=fs.read_uint(dir, "memory.swap.peak"),
                         failcnt=fs.read_kv(dir, "memory.swap.events").get("max", 0)),
        raw=raw,
        oom_kill=events.get("oom_kill", 0),
        version="v2",
    )


def oom_kill_count(dir: str) -> int:
    return fs.read_kv(dir, "memory.events").get("oom_kill", 0)
