"""containers/storage, the store CRI-O and Podman share (/var/lib/containers/storage).

`overlay-containers/containers.json` lists every container: `id`, `names`,
`image`, `layer` (its writable layer: `overlay/<layer>/diff`) and
`metadata`, a JSON string the owner fills (CRI-O: pod-name, pod-id,
image-name, name; Podman: image-name, name). Each container's
`overlay-containers/<id>/userdata/` holds its OCI config.json (under the
graph root and under the run root) and, under the run root, conmon's
`pidfile`. Format of containers/storage 1.3x-1.5x (CRI-O 1.2x, Podman 4-5).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

from pallet.debug.paths import HostPaths
from pallet.debug.records import read_json, read_pid

# Podman marks its containers; CRI-O sets its io.kubernetes.cri-o.* keys.
MANAGER = "io.container.manager"
CRIO_TYPE = "io.kubernetes.cri-o.ContainerType"


@dataclass(frozen=True)
class StoredContainer:
    id: str
    names: tuple[str, ...]
    image_id: str
    layer: str
    metadata: dict = field(compare=False)
    annotations: dict = field(compare=False)
    config_path: str
    pid: int
    upper_dir: str

    @property
    def owner(self) -> str:
        if self.annotations.get(MANAGER) == "libpod":
            return "podman"
        if CRIO_TYPE in self.annotations or "pod-name" in self.metadata:
            return "cri-o"
        return "podman"


def _metadata(raw) -> dict:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def _annotations(paths: HostPaths, cid: str) -> tuple[dict, str]:
    for base in (paths.storage_root, paths.storage_runroot):
        path = os.path.join(base, "overlay-containers", cid, "userdata", "config.json")
        try:
            return read_json(path).get("annotations") or {}, path
        except (OSError, ValueError, AttributeError):
            continue
    return {}, ""


def load_storage(paths: HostPaths) -> tuple[list[StoredContainer], list[str], bool]:
    """Every container in containers.json; problems; whether the store exists."""
    index = os.path.join(paths.storage_root, "overlay-containers", "containers.json")
    try:
        entries = read_json(index)
    except FileNotFoundError:
        return [], [], os.path.isdir(paths.storage_root)
    except (OSError, ValueError) as exc:
        return [], [f"cannot read {index}: {getattr(exc, 'strerror', None) or exc}"], True
    out = []
    for entry in entries or ():
        cid = entry.get("id", "")
        annotations, config_path = _annotations(paths, cid)
        layer = entry.get("layer", "")
        upper = os.path.join(paths.storage_root, "overlay", layer, "diff") if layer else ""
        out.append(StoredContainer(
            id=cid, names=tuple(entry.get("names") or ()), image_id=entry.get("image", ""), layer=layer,
            metadata=_metadata(entry.get("metadata")), annotations=annotations, config_path=config_path,
            pid=read_pid(os.path.join(paths.storage_runroot, "overlay-containers", cid, "userdata", "pidfile")),
            upper_dir=upper if os.path.isdir(upper) else "",
        ))
    return out, [], True
