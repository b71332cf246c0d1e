"""Docker's state: /var/lib/docker/containers/<id>/config.v2.json (every data root, see paths).

Format as written by dockerd 20.10 to 28.x (moby container/container.go,
`Container` serialised as is): `ID`, `Name` ("/name"), `Config.Image`
(what the user typed), `Config.Labels` (kubelet's io.kubernetes.* labels
under dockershim/cri-dockerd), `State.Pid`, `Driver`. The writable layer
of the graphdriver storage is `<root>/<Driver>/<mount-id>/diff`, the
mount id in `<root>/image/<Driver>/layerdb/mounts/<id>/mount-id`.
"""

from __future__ import annotations

import os

from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord, pod_from_labels, read_json
from pallet.debug.sources import Loaded

RUNTIME = "docker"


def _upper_dir(root: str, driver: str, cid: str) -> str:
    try:
        with open(os.path.join(root, "image", driver, "layerdb", "mounts", cid, "mount-id")) as f:
            mount_id = f.read().strip()
    except OSError:
        return ""
    # overlay2 keeps the upper dir in diff/; vfs has the whole rootfs in dir/
    for sub in ("diff", "dir"):
        path = os.path.join(root, driver, mount_id, sub)
        if os.path.isdir(path):
            return path
    return ""


def read_container(root: str, cid: str) -> ContainerRecord:
    path = os.path.join(root, "containers", cid, "config.v2.json")
    doc = read_json(path)
    config = doc.get("Config") or {}
    labels = config.get("Labels") or {}
    state = doc.get("State") or {}
    driver = doc.get("Driver") or "overlay2"
    kind = "sandbox" if labels.get("io.kubernetes.docker.type") == "podsandbox" else ""
    return ContainerRecord(
        runtime=RUNTIME,
        id=doc.get("ID") or cid,
        name=(doc.get("Name") or "").lstrip("/"),
        image=config.get("Image") or doc.get("Image") or "",
        pid=int(state.get("Pid") or 0) if state.get("Running") else 0,
        kind=kind,
        upper_dir=_upper_dir(root, driver, cid),
        source=path,
        labels=dict(labels),
        **pod_from_labels(labels),
    )


def _load_root(root: str, records: list, problems: list) -> bool:
    """Append the containers under one data root; False when it has no containers dir."""
    base = os.path.join(root, "containers")
    try:
        ids = sorted(os.listdir(base))
    except FileNotFoundError:
        return False
    except OSError as exc:
        problems.append(f"cannot read {base}: {exc.strerror}")
        return True
    for cid in ids:
        try:
            records.append(read_container(root, cid))
        except (OSError, ValueError) as exc:
            problems.append(f"cannot read {base}/{cid}/config.v2.json: {getattr(exc, 'strerror', None) or exc}")
    return True


def load(paths: HostPaths) -> Loaded:
    records: list[ContainerRecord] = []
    problems: list[str] = []
    present = False
    for root in paths.docker_roots:
        present = _load_root(root, records, problems) or present
    return Loaded(RUNTIME, tuple(records), tuple(problems), present=present)
