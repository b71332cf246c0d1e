"""CRI-O's containers, from containers/storage (see storage.py) and their config.json.

CRI-O writes the pod and container identity into the OCI annotations
(CRI-O 1.2x, internal/annotations and kubelet's labels copied as
annotations): io.kubernetes.pod.{name,namespace,uid},
io.kubernetes.container.name, io.kubernetes.cri-o.{ContainerType,
SandboxID, ImageName, Labels (JSON), KubeName, Namespace}. The
containers.json metadata (pod-name, image-name) is the fallback.
"""

from __future__ import annotations

import json

from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord, pod_from_labels
from pallet.debug.sources import Loaded
from pallet.debug.sources.storage import StoredContainer, load_storage

RUNTIME = "cri-o"


def _labels(ann: dict) -> dict:
    try:
        labels = json.loads(ann.get("io.kubernetes.cri-o.Labels") or "{}")
        return labels if isinstance(labels, dict) else {}
    except ValueError:
        return {}


def record(c: StoredContainer) -> ContainerRecord:
    ann, meta = c.annotations, c.metadata
    labels = {**_labels(ann), **{k: v for k, v in ann.items() if k.startswith("io.kubernetes.pod.")}}
    pod = pod_from_labels(labels)
    kind = ann.get("io.kubernetes.cri-o.ContainerType", "")
    pod["pod_name"] = pod["pod_name"] or ann.get("io.kubernetes.cri-o.KubeName", "") or meta.get("pod-name", "")
    pod["pod_namespace"] = pod["pod_namespace"] or ann.get("io.kubernetes.cri-o.Namespace", "")
    name = (labels.get("io.kubernetes.container.name") or ann.get("io.kubernetes.container.name")
            or meta.get("metadata-name") or (c.names[0] if c.names else ""))
    if kind == "sandbox":
        name = name if name != "POD" else (c.names[0] if c.names else name)
    return ContainerRecord(
        runtime=RUNTIME, id=c.id, name=name,
        image=ann.get("io.kubernetes.cri-o.ImageName") or meta.get("image-name", ""),
        pid=c.pid, kind=kind, upper_dir=c.upper_dir, source=c.config_path, labels={**ann}, **pod,
    )


def load(paths: HostPaths) -> Loaded:
    stored, problems, present = load_storage(paths)
    records = tuple(record(c) for c in stored if c.owner == RUNTIME)
    return Loaded(RUNTIME, records, tuple(problems), present)
