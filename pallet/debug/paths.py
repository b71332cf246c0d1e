"""Where debug looks: every runtime's state dirs, /proc and the cgroupfs.

All paths hang off `root` so a test can lay out a fake node (Docker's,
containerd's, CRI-O's, Podman's files) in a temp dir and point debug at it.
/proc and the cgroupfs are separate because tests fake those less often.

Docker and containerd may run with private dirs (dockerd `--data-root`,
containerd `root`/`state`): the explicit fields name them and replace the
defaults; left empty, the defaults come first and, on the real node
(`root` "/"), the dirs of every running dockerd and containerd follow
(pallet.debug.daemons).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pallet.debug.daemons import CONTAINERD_ROOT, CONTAINERD_STATE, DOCKER_ROOT, ContainerdDirs

TASKS = "io.containerd.runtime.v2.task"


def _unique(paths) -> tuple:
    """Drop repeats (a daemon started with the default dirs spelled out), keeping the first."""
    seen, out = set(), []
    for p in paths:
        key = os.path.realpath(p.root if isinstance(p, ContainerdDirs) else p)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class HostPaths:
    root: str = "/"                      # prefix for the runtimes' state files
    proc: str = "/proc"
    cgroupfs: str = "/sys/fs/cgroup"
    pallet_root: str = "/var/lib/pallet"
    pallet_runroot: str = "/run/pallet"
    docker_data_root: str = ""           # dockerd --data-root; "" = default (+ running dockerds')
    containerd_root: str = ""            # containerd's root; "" = default (+ running containerds')
    containerd_state: str = ""           # containerd's state; "" = default (+ running containerds')
    discover: bool = True                # read running daemons' flags (only when root is "/")

    def at(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    def _daemons(self):
        if not self.discover or os.path.realpath(self.root) != "/":
            return None
        from pallet.debug.daemons import discover

        return discover(self.proc)

    # Docker (dockerd's --data-root default)
    @property
    def docker_root(self) -> str:
        return self.docker_data_root or self.at(DOCKER_ROOT)

    @property
    def docker_roots(self) -> tuple[str, ...]:
        """Every Docker data root to read: the given one, else the default and the running dockerds'."""
        if self.docker_data_root:
            return (self.docker_data_root,)
        found = self._daemons()
        return _unique((self.docker_root, *(found.docker_roots if found else ())))

    # containerd: meta.db and snapshotters under root; shim v2 bundles under state
    @property
    def containerd_default(self) -> ContainerdDirs:
        return ContainerdDirs(root=self.containerd_root or self.at(CONTAINERD_ROOT),
                              state=self.containerd_state or self.at(CONTAINERD_STATE))

    @property
    def containerd_dirs(self) -> tuple[ContainerdDirs, ...]:
        """Every containerd to read: the given dirs, else the default and the running containerds'."""
        if self.containerd_root or self.containerd_state:
            return (self.containerd_default,)
        found = self._daemons()
        return _unique((self.containerd_default, *(found.containerd if found else ())))

    @property
    def containerd_tasks(self) -> str:
        return os.path.join(self.containerd_default.state, TASKS)

    @property
    def containerd_runc(self) -> str:
        # the runc shim's default --root, a constant in containerd 1.x-2.x whatever `state` is
        return self.at("/run/containerd/runc")

    # containers/storage, shared by CRI-O and Podman (storage.conf defaults)
    @property
    def storage_root(self) -> str:
        return self.at("/var/lib/containers/storage")

    @property
    def storage_runroot(self) -> str:
        return self.at("/run/containers/storage")

    @property
    def pallet_runtime_root(self) -> str:
        return self.at("/run/pallet-runtime")
