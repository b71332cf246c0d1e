"""What a runtime's own state says about one of its containers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# Kubernetes' labels (kubelet sets them on every CRI container; dockershim
# and cri-dockerd turn them into Docker labels, CRI-O into annotations).
K8S_POD_NAME = "io.kubernetes.pod.name"
K8S_POD_NAMESPACE = "io.kubernetes.pod.namespace"
K8S_POD_UID = "io.kubernetes.pod.uid"
K8S_CONTAINER_NAME = "io.kubernetes.container.name"


@dataclass(frozen=True, kw_only=True)
class ContainerRecord:
    runtime: str                 # docker, containerd, cri-o, podman, pallet
    id: str
    name: str = ""
    image: str = ""
    pid: int = 0                 # the init process on the host, 0 if unknown or stopped
    pod_name: str = ""
    pod_namespace: str = ""
    pod_uid: str = ""
    kind: str = ""               # "sandbox" for a pod's infra (pause) container
    namespace: str = ""          # containerd namespace (k8s.io, default, moby)
    upper_dir: str = ""          # the writable layer, for fs-usage
    source: str = ""             # the file this came from
    labels: dict = field(default_factory=dict, compare=False, hash=False)


def read_json(path: str):
    with open(path, "rb") as f:
        return json.load(f)


def read_pid(path: str) -> int:
    try:
        with open(path) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def pod_from_labels(labels: dict) -> dict:
    return {
        "pod_name": labels.get(K8S_POD_NAME, ""),
        "pod_namespace": labels.get(K8S_POD_NAMESPACE, ""),
        "pod_uid": labels.get(K8S_POD_UID, ""),
    }
