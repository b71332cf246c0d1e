"""`pallet debug swap`: who uses swap, per process, per container and per pod.

The seed walked each top-swap PID's parents up to a `docker-containerd-shim`
process, which no longer exists. Here each process's VmSwap (/proc/PID/status)
is attributed through its cgroup and summed; the cgroups' own swap figures
(v1 memsw minus usage, v2 memory.swap.current) are added where the kernel
accounts them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.debug import procfs
from pallet.debug.attribution import Attributor
from pallet.debug.cgroupview import hierarchies
from pallet.debug.usage import memory_of


@dataclass(frozen=True)
class ProcessSwap:
    pid: int
    command: str
    swap: int          # bytes
    owner: str         # attribution label


@dataclass(frozen=True)
class GroupSwap:
    key: str           # container "runtime:name" or pod "ns/name"
    swap: int          # sum of its processes' VmSwap
    nprocs: int
    cgroup_swap: int | None = None   # the cgroup's own figure, when accounted


@dataclass(frozen=True)
class SwapReport:
    processes: tuple[ProcessSwap, ...]
    containers: tuple[GroupSwap, ...]
    pods: tuple[GroupSwap, ...]
    total: int
    unreadable: int    # processes whose status could not be read


def report(attributor: Attributor, top: int = 20, *, cgroup_figures: bool = True) -> SwapReport:
    proc = attributor.catalog.paths.proc
    rows: list[tuple[ProcessSwap, object]] = []
    unreadable = 0
    for pid in procfs.pids(proc):
        try:
            st = procfs.status(pid, proc)
        except (OSError, ValueError):
            unreadable += 1
            continue
        if not st.vm_swap:
            continue
        a = attributor.of_pid(pid)
        rows.append((ProcessSwap(pid, st.name, st.vm_swap, a.label()), a))
    rows.sort(key=lambda r: (-r[0].swap, r[0].pid))

    containers: dict[str, list] = {}
    pods: dict[str, list] = {}
    first_pid: dict[str, int] = {}
    for p, a in rows:
        if a.is_container:
            key = f"{a.runtime}:{a.name or a.container_id[:12]}"
            containers.setdefault(key, []).append(p.swap)
            first_pid.setdefault(key, p.pid)
            pod = a.pod_label()
            if pod:
                pods.setdefault(pod, []).append(p.swap)

    hs = hierarchies(proc) if cgroup_figures else []

    def cgroup_swap(key: str) -> int | None:
        if not hs:
            return None
        try:
            sample = memory_of(hs, procfs.cgroups(first_pid[key], proc))
        except OSError:
            return None
        return sample.swap if sample else None

    def groups(d: dict, with_cgroup: bool) -> tuple[GroupSwap, ...]:
        out = [GroupSwap(k, sum(v), len(v), cgroup_swap(k) if with_cgroup else None) for k, v in d.items()]
        return tuple(sorted(out, key=lambda g: (-g.swap, g.key))[:top])

    return SwapReport(
        processes=tuple(p for p, _ in rows[:top]), containers=groups(containers, True), pods=groups(pods, False),
        total=sum(p.swap for p, _ in rows), unreadable=unreadable,
    )
