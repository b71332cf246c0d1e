"""Where debug looks: every runtime's state dirs, /proc and the cgroupfs.

All paths hang off `root` so a test can lay out a fake node (Docker's,
containerd's, CRI-O's, Podman's files) in a temp dir and point debug at it.
/proc and the cgroupfs are separate because tests fake those less often.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class HostPaths:
    root: str = "/"                      # prefix for the runtimes' state files
    proc: str = "/proc"
    cgroupfs: str = "/sys/fs/cgroup"
    pallet_root: str = "/var/lib/pallet"
    pallet_runroot: str = "/run/pallet"

    def at(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/"))

    # Docker (dockerd's --data-root default)
    @property
    def docker_root(self) -> str:
        return self.at("/var/lib/docker")

    # containerd: the shim v2 bundles and runc's state for each namespace
    @property
    def containerd_tasks(self) -> str:
        return self.at("/run/containerd/io.containerd.runtime.v2.task")

    @property
    def containerd_runc(self) -> str:
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
