"""v1 memory: limit, reservation (soft limit), memsw, kmem.tcp, swappiness, OOM killer.

OCI's `swap` is memory+swap, exactly v1's memory.memsw.limit_in_bytes.
The kernel refuses memsw < limit at every moment, so the write order
depends on the current limit (see `order`).
"""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import MemoryEntry, MemoryStats

NAME = "memory"
LIMIT = "memory.limit_in_bytes"
MEMSW = "memory.memsw.limit_in_bytes"


def plan(res: LinuxResources) -> Plan:
    m = res.memory
    if m is None:
        return []
    out: Plan = []
    swap = m.swap
    # runc: unlimited memory with swap unset means unlimited swap as well,
    # or the old memsw limit would still cap the container.
    if m.limit == -1 and not swap:
        swap = -1
    if m.limit:
        out.append((LIMIT, str(m.limit)))
    if swap:
        out.append((MEMSW, str(swap)))
    if m.reservation:
        out.append(("memory.soft_limit_in_bytes", str(m.reservation)))
    if m.kernel_tcp:
        out.append(("memory.kmem.tcp.limit_in_bytes", str(m.kernel_tcp)))
    if m.swappiness is not None and m.swappiness >= 0:
        out.append(("memory.swappiness", str(m.swappiness)))
    if m.disable_oom_killer:
        out.append(("memory.oom_control", "1"))
    return out


def order(p: Plan, current_limit: int) -> Plan:
    """Write memsw before the limit when raising it (runc's rule): when
    swap is unlimited or above the current limit, the new limit may be
    above the old memsw, which the kernel refuses."""
    values = dict(p)
    if LIMIT in values and MEMSW in values:
        swap = int(values[MEMSW])
        if swap == -1 or current_limit < swap:
            first = [(MEMSW, values[MEMSW]), (LIMIT, values[LIMIT])]
            return first + [(k, v) for k, v in p if k not in (LIMIT, MEMSW)]
    return p


def apply(res: LinuxResources, dir: str) -> list[str]:
    warnings = []
    p = plan(res)
    if res.memory and res.memory.kernel:
        warnings.append("memory.kernel is deprecated and ignored (kernel memory is always accounted)")
    if not fs.exists(dir, MEMSW):
        if res.memory and res.memory.swap and res.memory.swap > 0:
            warnings.append("memory.swap ignored: the kernel has no swap accounting (memsw)")
        p = [(k, v) for k, v in p if k != MEMSW]
    fs.write_plan(dir, order(p, fs.read_uint(dir, LIMIT)))
    return warnings


def _entry(dir: str, prefix: str) -> MemoryEntry:
    from pallet.cgroups.stats import MemoryEntry

    return MemoryEntry(
        limit=fs.read_uint(dir, f"{prefix}.limit_in_bytes"),
        usage=fs.read_uint(dir, f"{prefix}.usage_in_bytes"),
        max=fs.read_uint(dir, f"{prefix}.max_usage_in_bytes"),
        failcnt=fs.read_uint(dir, f"{prefix}.failcnt"),
    )


def stats(dir: str) -> MemoryStats:
    from pallet.cgroups.stats import MemoryStats

    raw = fs.read_kv(dir, "memory.stat")
    oom = fs.read_kv(dir, "memory.oom_control")
    return MemoryStats(
        cache=raw.get("cache", 0),
        usage=_entry(dir, "memory"),
        swap=_entry(dir, "memory.memsw"),   # v1 reports memory+swap here, as runc
        kernel=_entry(dir, "memory.kmem"),
        kernel_tcp=_entry(dir, "memory.kmem.tcp"),
        raw=raw,
        oom_kill=oom.get("oom_kill", 0),
        under_oom=bool(oom.get("under_oom", 0)),
        version="v1",
    )


def oom_kill_count(dir: str) -> int:
    return fs.read_kv(dir, "memory.oom_control").get("oom_kill", 0)
