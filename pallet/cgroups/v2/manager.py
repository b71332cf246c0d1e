"""The manager of a unified (cgroup v2) host: one dir below the root.

Controllers must be enabled in every ancestor's cgroup.subtree_control
before the leaf has their files; `enable_controllers` enables all that
each ancestor offers (runc does the same), one at a time so a single
refusal (a threaded subtree, a busy controller) costs only that one.
"""

from __future__ import annotations

import os

from pallet.cgroups import fs, hierarchy, manager
from pallet.cgroups.manager import all_pids, as_resources, requested
from pallet.cgroups.v2 import freezer
from pallet.errors import InvalidArgument, PalletError, Unavailable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import Stats
    from pallet.oci.resources import LinuxResources

# Controllers in apply order (modules imported on first use); `unified`
# is written last so raw keys override the typed fields.
CONTROLLER_ORDER = ("cpuset", "memory", "cpu", "pids", "io", "hugetlb", "rdma")


def controller(name: str):
    return __import__(f"pallet.cgroups.v2.{name}", fromlist=["plan"])


def enable_controllers(root: str, path: str, only: list[str] | None = None) -> None:
    """Enable, in `root` and each ancestor of `path`, what each one offers
    (or just the controllers in `only`)."""
    parents = [root] + hierarchy.levels(root, path)[:-1]
    for d in parents:
        if not os.path.isdir(d):
            os.mkdir(d, 0o755)
        available = (fs.read_optional(d, "cgroup.controllers") or "").split()
        enabled = set((fs.read_optional(d, "cgroup.subtree_control") or "").split())
        for controller in available:
            if controller in enabled or (only is not None and controller not in only):
                continue
            try:
                fs.write(d, "cgroup.subtree_control", f"+{controller}")
            except PalletError as exc:
                # runc only warns too: the controllers the spec needs are
                # checked when resources are applied.
                import logging

                logging.getLogger("pallet.cgroups").warning("%s", exc)


class V2Manager:
    version = "v2"

    def __init__(self, path: str, root: str) -> None:
        self.path = path
        self.root = root

    @property
    def dir_(self) -> str:
        return hierarchy.join(self.root, self.path)

    def controllers(self) -> set[str]:
        return set((fs.read_optional(self.dir_, "cgroup.controllers") or "").split())

    def exists(self) -> bool:
        return os.path.isdir(self.dir_)

    def create(self) -> None:
        enable_controllers(self.root, self.path)
        hierarchy.make_levels(self.root, self.path)

    def self_join_files(self) -> list[str]:
        """None on v2: cgroup.procs takes the global lock whoever writes (see V1Manager)."""
        return []

    def clone_dir(self) -> str:
        """The cgroup, made now, for a process to be born in (clone3 CLONE_INTO_CGROUP)."""
        self.create()
        return self.dir_

    def add_pid(self, pid: int, *, skip_self_joined: bool = False, skip_clone_dir: bool = False) -> None:
        if not skip_clone_dir:
            fs.write(self.dir_, "cgroup.procs", str(pid))

    def apply(self, resources: dict | LinuxResources | None, *, default_devices: bool = True,
              skip_devices: bool = False) -> list[str]:
        res = as_resources(resources)
        warnings: list[str] = []
        present = self.controllers()
        # Check every controller first: a missing one fails before any write.
        names = [name for name in CONTROLLER_ORDER if requested(res, name)]
        modules = [controller(name) for name in names]
        for name, module in zip(names, modules):
            if name not in present and module.plan(res):
                raise Unavailable(f"linux.resources: the {name} controller is not enabled for "
                                  f"{self.dir_} (cgroup.controllers: {' '.join(sorted(present)) or 'none'})")
        for name, module in zip(names, modules):
            if name in present:
                warnings += module.apply(res, self.dir_)
        if res.network is not None and (res.network.class_id or res.network.priorities):
            warnings.append("linux.resources.network: net_cls/net_prio do not exist on cgroup v2; ignored")
        if not skip_devices:
            warnings += controller("devices").apply(res, self.dir_, defaults=default_devices)
        if res.unified:
            warnings += controller("unified").apply(res, self.dir_)
        return warnings

    def freeze(self) -> None:
        freezer.freeze(self.dir_)

    def thaw(self) -> None:
        freezer.thaw(self.dir_)

    def is_frozen(self) -> bool:
        return freezer.is_frozen(self.dir_)

    def pids(self) -> list[int]:
        return all_pids(self.dir_) if self.exists() else []

    def kill_all(self, signum: int) -> None:
        # v2 delivers signals to frozen tasks: SIGKILL kills them, others wait for the thaw.
        manager.kill_all(self, signum, self.dir_)

    def unfreeze_for_kill(self) -> None:
        pass  # a frozen v2 task dies of SIGKILL as it is

    def destroy(self, kill: bool = False, timeout: float = 2.0) -> None:
        manager.destroy(self, [self.dir_], kill, timeout)

    def stats(self) -> Stats:
        from pallet.cgroups.stats import CpuStats, MemoryStats, Stats
        from pallet.cgroups.v2 import cpu, cpuset, hugetlb, io, memory, pids as pids_ctl

        d, present = self.dir_, self.controllers()
        usage, throttling = cpu.stats(d)   # cpu.stat exists even without the controller
        return Stats(
            cpu=CpuStats(usage=usage, throttling=throttling),
            cpuset=cpuset.stats(d) if "cpuset" in present else Stats().cpuset,
            memory=memory.stats(d) if "memory" in present else MemoryStats(version="v2"),
            pids=pids_ctl.stats(d) if "pids" in present else Stats().pids,
            blkio=io.stats(d) if "io" in present else Stats().blkio,
            hugetlb=hugetlb.stats(d) if "hugetlb" in present else {},
        )

    def oom_watcher(self):
        """Events of the cgroup's OOMs: memory.events `oom` (see oom.py)."""
        from pallet.cgroups import fs as _fs
        from pallet.cgroups.oom import CounterWatcher

        return CounterWatcher(lambda: _fs.read_kv(self.dir_, "memory.events").get("oom", 0))

    def oom_kill_count(self) -> int:
        return controller("memory").oom_kill_count(self.dir_)

    def to_json(self) -> dict:
        return {"version": "v2", "path": self.path, "root": self.root}

    @classmethod
    def from_json(cls, d: dict) -> "V2Manager":
        if "root" not in d:
            raise InvalidArgument("cgroup state: v2 manager without root")
        return cls(d["path"], d["root"])
