"""The manager of a v1 host, and of a hybrid one (v1 plus a cgroup2 mount).

One dir per mounted v1 hierarchy (named ones like name=systemd too, as
runc joins them), plus, on a hybrid host, one on the cgroup2 mount: its
cgroup.kill kills the whole container in one write, and the controllers
it owns (here hugetlb) are set there when the spec asks for them.

Controllers on the cgroup2 mount are enabled (subtree_control, root to
parent) only when a resource needs one, not at create as on a v2 host:
runc doesn't enable them in hybrid mode either, and a controller enabled
there can't be mounted as a v1 hierarchy any more (crun on this host
needs hugetlb as v1: MACHINE-FACTS).
"""

from __future__ import annotations

import os

from pallet.cgroups import fs, hierarchy, manager
from pallet.cgroups.manager import all_pids, as_resources, requested
from pallet.errors import InvalidArgument, PalletError, Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import Stats
    from pallet.oci.resources import LinuxResources

# Controller -> module, in apply order (cpuset before memory so a node
# restriction is in place before the limit, as runc orders them).
# Imported on first use: `state` and `list` only ask is_frozen().
CONTROLLER_ORDER = ("cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb",
                    "net_cls", "net_prio", "rdma")
# A request for a controller the host didn't mount: runc only warns for these.
WARN_IF_MISSING = frozenset({"net_cls", "net_prio"})
# Controllers a hybrid host may have on its cgroup2 mount instead.
ON_UNIFIED = ("hugetlb",)
# v1 hierarchies that come and go on a hybrid host: hugetlb is mounted as v1 only for crun's sake, for a while
# (MACHINE-FACTS.md); whoever mounted it may remove cgroups in it or unmount it at any time.
COME_AND_GO = frozenset({"hugetlb"})


def controller(name: str, version: str = "v1"):
    """The module of a controller (pallet.cgroups.v1.memory...)."""
    return __import__(f"pallet.cgroups.{version}.{name}", fromlist=["plan"])


class V1Manager:
    def __init__(self, path: str, mounts: dict[str, list[str]], unified: str | None = None) -> None:
        """`mounts`: mountpoint -> the controllers mounted there."""
        self.path = path
        self.mounts = {mp: sorted(ctls) for mp, ctls in mounts.items()}
        self.unified = unified   # the cgroup2 mountpoint on a hybrid host
        self.version = "hybrid" if unified else "v1"

    # --- where things are --------------------------------------------------

    def dir(self, controller: str) -> str | None:
        for mountpoint, controllers in self.mounts.items():
            if controller in controllers:
                return hierarchy.join(mountpoint, self.path)
        return None

    @property
    def unified_dir(self) -> str | None:
        return hierarchy.join(self.unified, self.path) if self.unified else None

    def unified_controllers(self) -> set[str]:
        if not self.unified:
            return set()
        return set((fs.read_optional(self.unified, "cgroup.controllers") or "").split())

    def dirs(self) -> list[str]:
        out = [hierarchy.join(mp, self.path) for mp in self.mounts]
        if self.unified_dir:
            out.append(self.unified_dir)
        return out

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs())

    # --- lifecycle ---------------------------------------------------------

    def create(self) -> None:
        for mountpoint, controllers in self.mounts.items():
            try:
                hierarchy.make_levels(mountpoint, self.path)
            except PalletError:
                if COME_AND_GO.issuperset(controllers) and not os.path.ismount(mountpoint):
                    continue  # unmounted since the layout was read: self_join_files() leaves it out
                raise
            if "cpuset" in controllers:
                for d in hierarchy.levels(mountpoint, self.path):
                    controller("cpuset").inherit(d)
        if self.unified:
            hierarchy.make_levels(self.unified, self.path)

    def self_join_files(self) -> list[str]:
        """The v1 `tasks` files: a single-threaded process that writes "0" there
        joins without the kernel's global threadgroup lock, whose RCU grace
        period makes a write of a pid to cgroup.procs take ~10 ms here.

        A hierarchy of only COME_AND_GO controllers whose dir vanished since
        create() (its mount's owner removed it, or unmounted) is left out:
        the container then just stays out of it instead of failing (ENOENT)."""
        out = []
        for mp, ctls in self.mounts.items():
            d = hierarchy.join(mp, self.path)
            if COME_AND_GO.issuperset(ctls) and not os.path.isdir(d):
                continue
            out.append(os.path.join(d, "tasks"))
        return out

    def clone_dir(self) -> str | None:
        """The cgroup's dir on the cgroup2 mount of a hybrid host, made now, for a process to
        be born in (clone3 CLONE_INTO_CGROUP); None on a v1 host."""
        if not self.unified:
            return None
        hierarchy.make_levels(self.unified, self.path)
        return self.unified_dir

    def add_pid(self, pid: int, *, skip_self_joined: bool = False, skip_clone_dir: bool = False) -> None:
        """Move `pid` in; `skip_self_joined`: it joined self_join_files() itself already;
        `skip_clone_dir`: it was born in clone_dir()."""
        dirs = [] if skip_self_joined else [hierarchy.join(mp, self.path) for mp in self.mounts]
        if self.unified_dir and not skip_clone_dir:
            dirs.append(self.unified_dir)
        for d in dirs:
            fs.write(d, "cgroup.procs", str(pid))

    def apply(self, resources: dict | LinuxResources | None, *, default_devices: bool = True,
              skip_devices: bool = False) -> list[str]:
        res = as_resources(resources)
        warnings: list[str] = []
        on_unified = self.unified_controllers() if res.hugepage_limits is not None or res.unified else set()
        # First decide where each controller's plan goes, so a resource the
        # host lacks fails before anything is written.
        steps = []
        unified_needs: list[str] = []
        for name in CONTROLLER_ORDER:
            if name == "devices" and skip_devices or name != "devices" and not requested(res, name):
                continue
            module, d = controller(name), self.dir(name)
            if d is None and name in ON_UNIFIED and name in on_unified and self.unified_dir and module.plan(res):
                module, d = controller(name, "v2"), self.unified_dir
                unified_needs.append(name)
            if d is None:
                if module.plan(res):
                    msg = f"linux.resources: the {name} controller is not mounted on this host"
                    if name not in WARN_IF_MISSING:
                        raise Unavailable(msg)
                    warnings.append(msg + "; ignored")
                continue
            steps.append((name, module, d))
        if res.unified and not self.unified_dir:
            raise InvalidArgument("linux.resources.unified: this host has no cgroup v2 mount")
        # raw keys of a controller the cgroup2 mount owns need it enabled too
        unified_needs += sorted({key.split(".")[0] for key, _ in res.unified or ()} & on_unified - set(unified_needs))
        if unified_needs:
            from pallet.cgroups.v2.manager import enable_controllers

            enable_controllers(self.unified, self.path, only=unified_needs)
        for name, module, d in steps:
            if name == "devices":
                warnings += module.apply(res, d, defaults=default_devices)
            else:
                warnings += module.apply(res, d)
        if res.unified:
            warnings += controller("unified", "v2").apply(res, self.unified_dir)
        return warnings

    # --- freezing and signals -----------------------------------------------

    def _freezer(self):
        d = self.dir("freezer")
        if d:
            return controller("freezer"), d
        if self.unified_dir:
            return controller("freezer", "v2"), self.unified_dir
        raise Unavailable("cgroup: this host has no freezer (v1) and no cgroup v2 mount")

    def freeze(self) -> None:
        module, d = self._freezer()
        module.freeze(d)

    def thaw(self) -> None:
        module, d = self._freezer()
        module.thaw(d)

    def is_frozen(self) -> bool:
        module, d = self._freezer()
        return module.is_frozen(d)

    def pids(self) -> list[int]:
        d = self.dir("pids") or self.dir("freezer") or self.dir("memory") or self.unified_dir
        if d is None:
            return []
        return all_pids(d)

    def kill_all(self, signum: int) -> None:
        manager.kill_all(self, signum, self.unified_dir)

    def unfreeze_for_kill(self) -> None:
        # A v1-frozen task can't act on SIGKILL until it is thawed.
        if self.dir("freezer") and self.is_frozen():
            self.thaw()

    def destroy(self, kill: bool = False, timeout: float = 2.0) -> None:
        manager.destroy(self, self.dirs(), kill, timeout)

    # --- reading -------------------------------------------------------------

    def stats(self) -> Stats:
        from pallet.cgroups.stats import CpuStats, MemoryStats, Stats
        from pallet.cgroups.v1 import blkio, cpu, cpuacct, cpuset, hugetlb, memory, pids as pids_ctl
        from pallet.cgroups.v2 import hugetlb as v2_hugetlb

        cpu_dir, acct_dir = self.dir("cpu"), self.dir("cpuacct")
        usage = cpuacct.stats(acct_dir) if acct_dir else None
        throttling = cpu.stats(cpu_dir) if cpu_dir else None
        mem_dir, pids_dir, blk_dir = self.dir("memory"), self.dir("pids"), self.dir("blkio")
        huge_dir = self.dir("hugetlb")
        if huge_dir:
            huge = hugetlb.stats(huge_dir)
        elif self.unified_dir and "hugetlb" in self.unified_controllers() and os.path.isdir(self.unified_dir):
            huge = v2_hugetlb.stats(self.unified_dir)
        else:
            huge = {}
        kwargs = {}
        if usage or throttling:
            kwargs["cpu"] = CpuStats(**{k: v for k, v in (("usage", usage), ("throttling", throttling)) if v})
        cpuset_dir = self.dir("cpuset")
        if cpuset_dir:
            kwargs["cpuset"] = cpuset.stats(cpuset_dir)
        return Stats(
            memory=memory.stats(mem_dir) if mem_dir else MemoryStats(),
            pids=pids_ctl.stats(pids_dir) if pids_dir else Stats().pids,
            blkio=blkio.stats(blk_dir) if blk_dir else Stats().blkio,
            hugetlb=huge, **kwargs,
        )

    def oom_watcher(self):
        """Events of the memory cgroup's OOMs (see oom.py)."""
        from pallet.cgroups.oom import CounterWatcher, EventfdWatcher

        d = self.dir("memory")
        if d is None:
            return CounterWatcher(lambda: 0)
        try:
            return EventfdWatcher(d)
        except Exception:  # no cgroup.event_control (or it refused): count kills instead
            return CounterWatcher(self.oom_kill_count)

    def oom_kill_count(self) -> int:
        d = self.dir("memory")
        return controller("memory").oom_kill_count(d) if d else 0

    def to_json(self) -> dict:
        return {"version": self.version, "path": self.path, "mounts": self.mounts,
                "unified": self.unified}

    @classmethod
    def from_json(cls, d: dict) -> "V1Manager":
        return cls(d["path"], d["mounts"], d.get("unified"))
