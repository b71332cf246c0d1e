"""cgroups: detect the layout, and manage one container's cgroup on it.

    from pallet.cgroups import detect, open_manager, manager_from_json
    mgr = open_manager(spec.linux.cgroupsPath, container_id)
    mgr.create(); mgr.apply(spec.linux.resources); mgr.add_pid(pid)
    saved = mgr.to_json()            # into state.json
    mgr = manager_from_json(saved)   # in a later command

`root` (default /sys/fs/cgroup) and `mode` let tests point a manager at
a temporary tree standing for a layout this machine lacks.

Layout of the package: mode.py (detect), paths.py (cgroupsPath rules),
hierarchy.py (where the hierarchies are), fs.py (reads/writes, one-line
errors), devices.py (the device-rule semantics shared by v1 and v2),
stats.py (values, runc's `events --stats` JSON), memory_accounting.py
(Docker's usage), manager.py + protocol.py, and v1/ and v2/ with one
module per controller (`plan` pure, `apply`, `stats`) and each
version's manager. A hybrid host (v1 controllers + a cgroup2 mount) uses
the v1 manager, which also joins the cgroup2 mount (hugetlb, cgroup.kill).

Tested on this hybrid host: every v1 controller on the real kernel; on
the real cgroup2 mount (a V2Manager rooted at /sys/fs/cgroup/unified):
cgroup.procs, freeze/thaw via cgroup.freeze + cgroup.events, cgroup.kill,
hugetlb, and BPF device programs; v2 memory/cpu/cpuset/pids/io on a
temporary tree with the files a v2 kernel has.
"""

from __future__ import annotations

from pallet.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.protocol import CgroupManager
    from pallet.cgroups.mode import CgroupMode

__all__ = ["CgroupManager", "CgroupMode", "detect", "open_manager", "manager_from_json", "resolve"]

DEFAULT_ROOT = "/sys/fs/cgroup"
# Names loaded on first use: `state`/`list` import this package only to
# reopen a manager and ask is_frozen(), and pay for nothing else.
_LAZY = {"CgroupManager": "protocol", "CgroupMode": "mode", "detect": "mode", "resolve": "paths"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(__import__(f"pallet.cgroups.{_LAZY[name]}", fromlist=[name]), name)
    raise AttributeError(f"module 'pallet.cgroups' has no attribute {name!r}")


def open_manager(cgroups_path: str | None, container_id: str, *, root: str = DEFAULT_ROOT,
                 mode: CgroupMode | None = None, systemd: bool | None = None) -> CgroupManager:
    """A manager for the container's cgroup; nothing is created until create()."""
    from pallet.cgroups import hierarchy
    from pallet.cgroups.paths import resolve

    path = resolve(cgroups_path, container_id, systemd=systemd)
    # A real host: one read of mountinfo says it all (statfs and a second
    # mountinfo parse cost `create` several ms); a test's tree: by its files.
    found = hierarchy.layout(root) if mode is None else None
    if found is None:
        from pallet.cgroups.mode import CgroupMode, detect

        mode = mode or detect(root)
        mounts = {} if mode == CgroupMode.V2 else \
            {h.mountpoint: sorted(h.controllers) for h in hierarchy.v1_hierarchies(root)}
        unified = hierarchy.unified_mount(root) if mode == CgroupMode.HYBRID else None
    else:
        mode, mounts, unified = found
    if mode == "v2":
        from pallet.cgroups.v2.manager import V2Manager
        return V2Manager(path, root)
    from pallet.cgroups.v1.manager import V1Manager
    return V1Manager(path, mounts, unified)


def manager_from_json(d: dict) -> CgroupManager:
    """Reopen a manager saved with to_json() (state.json)."""
    version = d.get("version") if isinstance(d, dict) else None
    if version == "v2":
        from pallet.cgroups.v2.manager import V2Manager
        return V2Manager.from_json(d)
    if version in ("v1", "hybrid"):
        from pallet.cgroups.v1.manager import V1Manager
        return V1Manager.from_json(d)
    raise InvalidArgument(f"cgroup state: unknown version {version!r}")
