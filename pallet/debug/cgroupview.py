"""`pallet debug cgroups`: the cgroup mode, the hierarchies (lssubsys -m) and the tree (lscgroup).

Read from the mount table and the cgroupfs; the mode comes from
pallet.cgroups (statfs magic, not /proc/filesystems).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pallet.cgroups.mode import detect
from pallet.debug.attribution import Attributor
from pallet.debug.cgpath import identify
from pallet.debug.mounts import read_mounts


@dataclass(frozen=True)
class HierarchyInfo:
    version: str                  # "v1" or "v2"
    controllers: tuple[str, ...]  # v1: from the mount options; v2: cgroup.controllers
    mountpoint: str
    hierarchy_id: int = 0         # /proc/cgroups' hierarchy column (0 for v2)
    num_cgroups: int = 0


@dataclass(frozen=True)
class CgroupNode:
    path: str                     # inside the hierarchy, "/" for its root
    depth: int
    nprocs: int
    owner: str = ""               # "docker:web pod=default/web-0" on a container's own cgroup


def mode(cgroupfs: str = "/sys/fs/cgroup") -> str:
    found = detect(cgroupfs)
    return str(getattr(found, "value", found))   # "v1", "hybrid" or "v2" (an Enum in older pallet.cgroups)


def _proc_cgroups(proc: str) -> dict[str, tuple[int, int, bool]]:
    """/proc/cgroups: controller -> (hierarchy id, number of cgroups, enabled)."""
    out = {}
    try:
        with open(os.path.join(proc, "cgroups")) as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                name, hid, num, enabled = line.split()[:4]
                out[name] = (int(hid), int(num), enabled == "1")
    except OSError:
        pass
    return out


def hierarchies(proc: str = "/proc") -> list[HierarchyInfo]:
    table = _proc_cgroups(proc)
    out = []
    for m in read_mounts(proc):
        if m.fstype == "cgroup":
            controllers = tuple(o for o in m.super_options
                                if o in table or o.startswith("name="))
            first = next((table[c] for c in controllers if c in table), (0, 0, True))
            out.append(HierarchyInfo("v1", controllers, m.mountpoint, first[0], first[1]))
        elif m.fstype == "cgroup2":
            try:
                with open(os.path.join(m.mountpoint, "cgroup.controllers")) as f:
                    controllers = tuple(f.read().split())
            except OSError:
                controllers = ()
            out.append(HierarchyInfo("v2", controllers, m.mountpoint))
    return out


def find_hierarchy(hs: list[HierarchyInfo], controller: str | None) -> HierarchyInfo | None:
    """The hierarchy holding `controller`; by default memory on v1/hybrid, the unified one on v2."""
    if controller in ("unified", "v2"):
        return next((h for h in hs if h.version == "v2"), None)
    if controller:
        return next((h for h in hs if controller in h.controllers), None)
    v1 = [h for h in hs if h.version == "v1"]
    if v1:
        return next((h for h in v1 if "memory" in h.controllers), v1[0])
    return next(iter(hs), None)


def cgroup_dir(hs: list[HierarchyInfo], lines, controller: str) -> str | None:
    """A process's cgroup dir for a controller, from its /proc/PID/cgroup lines.

    v1: the hierarchy with that controller; else the unified hierarchy (v2,
    or hybrid when the controller lives only there).
    """
    for h in hs:
        if h.version == "v1" and controller in h.controllers:
            for line in lines:
                if controller in line.controllers:
                    return os.path.join(h.mountpoint, line.path.lstrip("/"))
    for h in hs:
        if h.version == "v2" and controller in h.controllers:
            for line in lines:
                if line.hierarchy_id == 0:
                    return os.path.join(h.mountpoint, line.path.lstrip("/"))
    return None


def _nprocs(d: str) -> int:
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


def tree(mountpoint: str, start: str, attributor: Attributor, max_depth: int | None = None) -> list[CgroupNode]:
    """Every cgroup under `start` (a path inside the hierarchy), depth first, sorted by name."""
    nodes: list[CgroupNode] = []
    start = "/" + start.strip("/")

    def visit(path: str, depth: int) -> None:
        d = os.path.join(mountpoint, path.lstrip("/"))
        owner = ""
        o = identify(path)
        # Annotate a container's own cgroup, not each sub-cgroup it made;
        # a pod-level cgroup gets the pod uid.
        if o.is_container and o.container_cgroup == path:
            owner = attributor.of_owner(o).label()
        elif o.pod_uid:
            last = path.rsplit("/", 1)[-1]
            if o.pod_uid in last or o.pod_uid.replace("-", "_") in last:
                owner = f"pod {o.pod_uid} ({o.qos})"
        nodes.append(CgroupNode(path, depth, _nprocs(d), owner))
        if max_depth is not None and depth >= max_depth:
            return
        try:
            subdirs = sorted(e.name for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
        except OSError:
            return
        for name in subdirs:
            visit(path.rstrip("/") + "/" + name, depth + 1)

    visit(start, 0)
    return nodes
