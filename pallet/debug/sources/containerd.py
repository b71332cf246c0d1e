"""containerd's containers: its bbolt metadata, then the shim v2 task bundles.

meta.db (/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db, read
with pallet.debug.bolt; schema of containerd 1.x-2.x core/metadata/buckets.go):

    v1/<namespace>/containers/<id>/{image, snapshotter, snapshotKey, labels/<key>}
    v1/<namespace>/snapshots/<snapshotter>/<key>/name   (the backend's snapshot name)

It knows every container, stopped ones too, with its labels (the CRI
plugin sets kubelet's io.kubernetes.pod.* and io.cri-containerd.kind;
nerdctl sets nerdctl/name). For running tasks the shim's bundle,
/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/, adds
init.pid and the OCI config.json with the CRI annotations
(io.kubernetes.cri.*; sandbox-uid since 1.7). The writable layer of the
overlayfs snapshotter is snapshots/<n>/fs, <n> from its own bolt
metadata.db (v1/snapshots/<name>/id, a varint), or the upperdir of the
bundle's rootfs mount. Either source alone is enough to name a container.
Every containerd of the node is read (paths.containerd_dirs: its root
holds meta.db and the snapshotters, its state the task bundles).
"""

from __future__ import annotations

import os
from dataclasses import replace

from pallet.debug.bolt import BoltFile, Bucket
from pallet.debug.daemons import ContainerdDirs
from pallet.debug.mounts import overlay_upper_dirs, read_mounts
from pallet.debug.paths import TASKS, HostPaths
from pallet.debug.records import ContainerRecord, pod_from_labels, read_json, read_pid
from pallet.debug.sources import Loaded

RUNTIME = "containerd"

CONTAINER_TYPE = "io.kubernetes.cri.container-type"   # "sandbox" or "container"
SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
SANDBOX_UID = "io.kubernetes.cri.sandbox-uid"
CONTAINER_NAME = "io.kubernetes.cri.container-name"
IMAGE_NAME = "io.kubernetes.cri.image-name"
CRI_KIND_LABEL = "io.cri-containerd.kind"
# a container's name, by who created it
NAME_LABELS = ("io.kubernetes.container.name", "nerdctl/name", "io.containerd.container.name")


def _text(b) -> str:
    return b.decode(errors="replace") if isinstance(b, bytes) else ""


def _uvarint(data: bytes) -> int:
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    return value


def _snapshot_dirs(base: str) -> dict[tuple[str, str], str]:
    """(snapshotter, backend snapshot name) -> its fs dir, from each snapshotter's metadata.db under root."""
    out: dict[tuple[str, str], str] = {}
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for name in names:
        prefix = "io.containerd.snapshotter.v1."
        if not name.startswith(prefix):
            continue
        root = os.path.join(base, name)
        try:
            snaps = BoltFile(os.path.join(root, "metadata.db")).bucket("v1", "snapshots")
        except (OSError, ValueError, KeyError):
            continue
        for snap_name, b in snaps.buckets():
            sid = b.get("id")
            if isinstance(sid, bytes):
                out[(name[len(prefix):], _text(snap_name))] = os.path.join(root, "snapshots", str(_uvarint(sid)), "fs")
    return out


def _from_meta(dirs: ContainerdDirs, db_path: str) -> list[ContainerRecord]:
    root = BoltFile(db_path).bucket("v1")
    snapshot_dirs = None
    out = []
    for ns_name, ns in root.buckets():
        ns_text = _text(ns_name)
        containers = ns.get("containers")
        if not isinstance(containers, Bucket):
            continue
        snapshots = ns.get("snapshots")
        for cid, c in containers.buckets():
            labels_b = c.get("labels")
            labels = {_text(k): _text(v) for k, v in labels_b.items()} if isinstance(labels_b, Bucket) else {}
            upper = ""
            key, snapshotter = _text(c.get("snapshotKey")), _text(c.get("snapshotter"))
            if key and snapshotter and isinstance(snapshots, Bucket):
                try:
                    backend = _text(snapshots.bucket(snapshotter).bucket(key).get("name"))
                except KeyError:
                    backend = ""
                if backend:
                    snapshot_dirs = _snapshot_dirs(dirs.root) if snapshot_dirs is None else snapshot_dirs
                    upper = snapshot_dirs.get((snapshotter, backend), "")
            out.append(ContainerRecord(
                runtime=RUNTIME, id=_text(cid), name=next((labels[k] for k in NAME_LABELS if k in labels), ""),
                image=_text(c.get("image")), kind=labels.get(CRI_KIND_LABEL, ""), namespace=ns_text,
                upper_dir=upper if os.path.isdir(upper) else "", source=db_path, labels=labels,
                **pod_from_labels(labels),
            ))
    return out


def _runc_pid(paths: HostPaths, ns: str, cid: str) -> int:
    # runc's own state (state.json, libcontainer format) as a fallback to init.pid
    try:
        return int(read_json(os.path.join(paths.containerd_runc, ns, cid, "state.json")).get("init_process_pid") or 0)
    except (OSError, ValueError, AttributeError):
        return 0


def read_task(paths: HostPaths, tasks: str, ns: str, cid: str, uppers: dict[str, str]) -> ContainerRecord:
    bundle = os.path.join(tasks, ns, cid)
    spec = read_json(os.path.join(bundle, "config.json"))
    ann = spec.get("annotations") or {}
    kind = ann.get(CONTAINER_TYPE, "")
    name = ann.get(CONTAINER_NAME) or (ann.get(SANDBOX_NAME) if kind == "sandbox" else "") or ""
    pid = read_pid(os.path.join(bundle, "init.pid")) or _runc_pid(paths, ns, cid)
    return ContainerRecord(
        runtime=RUNTIME, id=cid, name=name, image=ann.get(IMAGE_NAME, ""), pid=pid,
        pod_name=ann.get(SANDBOX_NAME, ""), pod_namespace=ann.get(SANDBOX_NAMESPACE, ""),
        pod_uid=ann.get(SANDBOX_UID, ""), kind=kind, namespace=ns,
        upper_dir=uppers.get(os.path.join(bundle, "rootfs"), ""),
        source=os.path.join(bundle, "config.json"), labels=dict(ann),
    )


def _merge(meta: ContainerRecord, task: ContainerRecord) -> ContainerRecord:
    """The task knows the pid and the CRI annotations; meta.db the labels and the stopped state."""
    pick = lambda a, b: a or b  # noqa: E731
    return replace(
        meta, pid=task.pid, name=pick(meta.name, task.name), image=pick(meta.image, task.image),
        pod_name=pick(meta.pod_name, task.pod_name), pod_namespace=pick(meta.pod_namespace, task.pod_namespace),
        pod_uid=pick(meta.pod_uid, task.pod_uid), kind=pick(meta.kind, task.kind),
        upper_dir=pick(meta.upper_dir, task.upper_dir), labels={**task.labels, **meta.labels},
    )


def _from_tasks(paths: HostPaths, base: str, problems: list[str]) -> list[ContainerRecord]:
    try:
        namespaces = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    except OSError as exc:
        problems.append(f"cannot read {base}: {exc.strerror}")
        return []
    uppers = overlay_upper_dirs(read_mounts(paths.proc))
    out = []
    for ns in namespaces:
        try:
            ids = sorted(os.listdir(os.path.join(base, ns)))
        except OSError as exc:
            problems.append(f"cannot read {base}/{ns}: {exc.strerror}")
            continue
        for cid in ids:
            try:
                out.append(read_task(paths, base, ns, cid, uppers))
            except (OSError, ValueError) as exc:
                problems.append(f"cannot read {base}/{ns}/{cid}/config.json: {getattr(exc, 'strerror', None) or exc}")
    return out


def _load_one(paths: HostPaths, dirs: ContainerdDirs, problems: list[str]) -> tuple[dict, bool]:
    """One containerd's containers by (namespace, id), and whether its state exists at all."""
    db = os.path.join(dirs.root, "io.containerd.metadata.v1.bolt", "meta.db")
    tasks = os.path.join(dirs.state, TASKS)
    records: dict[tuple[str, str], ContainerRecord] = {}
    present = os.path.isdir(tasks)
    if os.path.exists(db):
        present = True
        try:
            records = {(r.namespace, r.id): r for r in _from_meta(dirs, db)}
        except (OSError, ValueError, KeyError, IndexError) as exc:
            problems.append(f"cannot read {db}: {getattr(exc, 'strerror', None) or exc}")
    for task in _from_tasks(paths, tasks, problems):
        key = (task.namespace, task.id)
        records[key] = _merge(records[key], task) if key in records else task
    return records, present


def load(paths: HostPaths) -> Loaded:
    problems: list[str] = []
    records: dict[tuple[str, str], ContainerRecord] = {}
    present = False
    for dirs in paths.containerd_dirs:
        found, here = _load_one(paths, dirs, problems)
        # two containerds may both have (ns, id): the first (the default one) wins
        records = {**found, **records}
        present = present or here
    return Loaded(RUNTIME, tuple(records.values()), tuple(problems), present)
