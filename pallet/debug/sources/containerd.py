"""containerd's state, from the shim v2 task bundles (not from meta.db).

containerd keeps containers' labels in a bbolt database
(/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db); that is not
read here. Instead, for each running task the shim's bundle,
/run/containerd/io.containerd.runtime.v2.task/<namespace>/<id>/, holds the
OCI config.json (with the CRI plugin's annotations) and init.pid. Layout of
containerd 1.5 to 2.x with io.containerd.runc.v2; annotation keys from
containerd's pkg/cri/annotations (sandbox-uid since 1.7). Stopped tasks
have no bundle, so only running containers are found.
"""

from __future__ import annotations

import os

from pallet.debug.mounts import overlay_upper_dirs, read_mounts
from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord, read_json, read_pid
from pallet.debug.sources import Loaded

RUNTIME = "containerd"

CONTAINER_TYPE = "io.kubernetes.cri.container-type"   # "sandbox" or "container"
SANDBOX_NAME = "io.kubernetes.cri.sandbox-name"
SANDBOX_NAMESPACE = "io.kubernetes.cri.sandbox-namespace"
SANDBOX_UID = "io.kubernetes.cri.sandbox-uid"
CONTAINER_NAME = "io.kubernetes.cri.container-name"
IMAGE_NAME = "io.kubernetes.cri.image-name"


def _runc_pid(paths: HostPaths, ns: str, cid: str) -> int:
    # runc's own state (state.json, libcontainer format) as a fallback to init.pid
    try:
        return int(read_json(os.path.join(paths.containerd_runc, ns, cid, "state.json")).get("init_process_pid") or 0)
    except (OSError, ValueError, AttributeError):
        return 0


def read_task(paths: HostPaths, ns: str, cid: str, uppers: dict[str, str]) -> ContainerRecord:
    bundle = os.path.join(paths.containerd_tasks, ns, cid)
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


def load(paths: HostPaths) -> Loaded:
    base = paths.containerd_tasks
    try:
        namespaces = sorted(os.listdir(base))
    except FileNotFoundError:
        return Loaded(RUNTIME)
    except OSError as exc:
        return Loaded(RUNTIME, problems=(f"cannot read {base}: {exc.strerror}",), present=True)
    uppers = overlay_upper_dirs(read_mounts(paths.proc))
    records, problems = [], []
    for ns in namespaces:
        try:
            ids = sorted(os.listdir(os.path.join(base, ns)))
        except OSError as exc:
            problems.append(f"cannot read {base}/{ns}: {exc.strerror}")
            continue
        for cid in ids:
            try:
                records.append(read_task(paths, ns, cid, uppers))
            except (OSError, ValueError) as exc:
                problems.append(f"cannot read {base}/{ns}/{cid}/config.json: {getattr(exc, 'strerror', None) or exc}")
    return Loaded(RUNTIME, tuple(records), tuple(problems), present=True)
