"""Fake node layouts: each runtime's state files as that runtime writes them.

The builders here are shared with the integration tests (which import this
module by path). Formats and versions:
- Docker 24-28 (moby container/container.go, daemon/graphdriver/overlay2):
  containers/<id>/config.v2.json, hostconfig.json; image/overlay2/layerdb/mounts/<id>/mount-id;
  overlay2/<mount-id>/diff.
- containerd 1.7/2.0, shim io.containerd.runc.v2: io.containerd.runtime.v2.task/<ns>/<id>/{config.json,init.pid},
  CRI annotations io.kubernetes.cri.* (pkg/cri/annotations).
- CRI-O 1.28-1.31 and Podman 4.9/5.x on containers/storage 1.5x: overlay-containers/containers.json,
  overlay-containers/<id>/userdata/config.json (graph root and run root), run root userdata/pidfile,
  overlay/<layer>/diff; Podman's SQLite state db.sql (libpod/sqlite_state_internal.go).
- pallet-runtime: <root>/<id>/state.json (OCI state).
The tests in this file check the readers against these layouts.
"""

from __future__ import annotations

import json
import os
import sqlite3

from pallet.debug.paths import HostPaths


def _write(path: str, data, mode="w") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        if isinstance(data, (dict, list)):
            json.dump(data, f)
        else:
            f.write(data)


def docker_container(paths: HostPaths, cid: str, *, name: str, image: str = "busybox:latest",
                     labels: dict | None = None, pid: int = 0, hostname: str = "",
                     files: dict[str, bytes] | None = None, mount_id: str | None = None) -> str:
    root = paths.docker_root
    mount_id = mount_id or ("m" + cid[:63])
    config = {
        "StreamConfig": {},
        "State": {"Running": bool(pid), "Paused": False, "Restarting": False, "OOMKilled": False,
                  "RemovalInProgress": False, "Dead": False, "Pid": pid, "ExitCode": 0, "Error": "",
                  "StartedAt": "2026-11-27T18:00:00.000000000Z", "FinishedAt": "0001-01-01T00:00:00Z",
                  "Health": None},
        "ID": cid,
        "Created": "2026-11-27T18:00:00.000000000Z",
        "Managed": False,
        "Path": "sleep",
        "Args": ["1000"],
        "Config": {"Hostname": hostname or cid[:12], "Domainname": "", "User": "", "AttachStdin": False,
                   "Tty": False, "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                   "Cmd": ["sleep", "1000"], "Image": image, "Volumes": None, "WorkingDir": "",
                   "Entrypoint": None, "OnBuild": None, "Labels": labels or {}},
        "Image": "sha256:" + "a" * 64,
        "ImageManifest": None,
        "NetworkSettings": {"Bridge": "", "SandboxID": "", "Networks": {}},
        "LogPath": f"{root}/containers/{cid}/{cid}-json.log",
        "Name": "/" + name,
        "Driver": "overlay2",
        "OS": "linux",
        "RestartCount": 0,
        "HasBeenStartedBefore": bool(pid),
        "HasBeenManuallyStopped": False,
        "MountPoints": {},
        "SecretReferences": None,
        "ConfigReferences": None,
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "SeccompProfile": "",
        "NoNewPrivileges": False,
        "HostnamePath": f"{root}/containers/{cid}/hostname",
        "HostsPath": f"{root}/containers/{cid}/hosts",
        "ResolvConfPath": f"{root}/containers/{cid}/resolv.conf",
    }
    _write(f"{root}/containers/{cid}/config.v2.json", config)
    _write(f"{root}/containers/{cid}/hostconfig.json", {"CgroupParent": "", "NetworkMode": "none"})
    _write(f"{root}/image/overlay2/layerdb/mounts/{cid}/mount-id", mount_id)
    diff = f"{root}/overlay2/{mount_id}/diff"
    os.makedirs(diff, exist_ok=True)
    for rel, content in (files or {}).items():
        _write(os.path.join(diff, rel), content, "wb")
    return diff


def containerd_task(paths: HostPaths, cid: str, *, namespace: str = "k8s.io", pid: int = 0,
                    annotations: dict | None = None) -> str:
    bundle = f"{paths.containerd_tasks}/{namespace}/{cid}"
    spec = {"ociVersion": "1.1.0", "process": {"args": ["sleep", "1000"], "cwd": "/"},
            "root": {"path": "rootfs"}, "hostname": "", "annotations": annotations or {},
            "linux": {"cgroupsPath": f"/k8s.io/{cid}", "namespaces": [{"type": "pid"}, {"type": "mount"}]}}
    _write(f"{bundle}/config.json", spec)
    if pid:
        _write(f"{bundle}/init.pid", str(pid))
    _write(f"{bundle}/address", f"unix:///run/containerd/s/{cid[:32]}")
    return bundle


def cri_annotations(*, kind: str, pod: str, namespace: str, uid: str, sandbox_id: str,
                    container: str = "", image: str = "") -> dict:
    ann = {
        "io.kubernetes.cri.container-type": kind,
        "io.kubernetes.cri.sandbox-id": sandbox_id,
        "io.kubernetes.cri.sandbox-name": pod,
        "io.kubernetes.cri.sandbox-namespace": namespace,
        "io.kubernetes.cri.sandbox-uid": uid,
    }
    if kind == "container":
        ann.update({"io.kubernetes.cri.container-name": container, "io.kubernetes.cri.image-name": image})
    else:
        ann["io.kubernetes.cri.sandbox-log-directory"] = f"/var/log/pods/{namespace}_{pod}_{uid}"
    return ann


def storage_container(paths: HostPaths, cid: str, *, names: list[str], metadata: dict, annotations: dict,
                      pid: int = 0, layer: str | None = None, files: dict[str, bytes] | None = None) -> str:
    index = f"{paths.storage_root}/overlay-containers/containers.json"
    entries = []
    if os.path.exists(index):
        with open(index) as f:
            entries = json.load(f)
    layer = layer or ("l" + cid[:63])
    entries.append({"id": cid, "names": names, "image": "b" * 64, "layer": layer,
                    "metadata": json.dumps(metadata), "created": "2026-11-27T18:00:00.000000000Z",
                    "flags": {"MountLabel": "", "ProcessLabel": ""}})
    _write(index, entries)
    spec = {"ociVersion": "1.0.2-dev", "process": {"args": ["sleep", "1000"]}, "root": {"path": "/x/merged"},
            "annotations": annotations}
    for base in (paths.storage_root, paths.storage_runroot):
        _write(f"{base}/overlay-containers/{cid}/userdata/config.json", spec)
    if pid:
        _write(f"{paths.storage_runroot}/overlay-containers/{cid}/userdata/pidfile", str(pid))
    diff = f"{paths.storage_root}/overlay/{layer}/diff"
    os.makedirs(diff, exist_ok=True)
    for rel, content in (files or {}).items():
        _write(os.path.join(diff, rel), content, "wb")
    return diff


def crio_container(paths: HostPaths, cid: str, *, pod: str, namespace: str, uid: str, container: str,
                   sandbox_id: str, image: str = "docker.io/library/busybox:latest", pid: int = 0,
                   files: dict[str, bytes] | None = None) -> str:
    labels = {"io.kubernetes.container.name": container, "io.kubernetes.pod.name": pod,
              "io.kubernetes.pod.namespace": namespace, "io.kubernetes.pod.uid": uid}
    full = f"k8s_{container}_{pod}_{namespace}_{uid}_0"
    annotations = {
        "io.container.manager": "cri-o",
        "io.kubernetes.cri-o.ContainerID": cid,
        "io.kubernetes.cri-o.ContainerType": "container",
        "io.kubernetes.cri-o.Created": "2026-11-27T18:00:00.000000000Z",
        "io.kubernetes.cri-o.ImageName": image,
        "io.kubernetes.cri-o.Labels": json.dumps(labels),
        "io.kubernetes.cri-o.Metadata": json.dumps({"name": container}),
        "io.kubernetes.cri-o.Name": full,
        "io.kubernetes.cri-o.SandboxID": sandbox_id,
        "io.kubernetes.cri-o.SandboxName": f"k8s_{pod}_{namespace}_{uid}_0",
        **labels,
    }
    metadata = {"pod-name": f"k8s_{pod}_{namespace}_{uid}_0", "pod-id": sandbox_id, "image-name": image,
                "image-id": "b" * 64, "name": full, "metadata-name": container, "uid": uid,
                "namespace": namespace, "created-at": 1764266400}
    return storage_container(paths, cid, names=[full], metadata=metadata, annotations=annotations, pid=pid,
                             files=files)


PODMAN_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS PodConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL,
       JSON TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ContainerConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT UNIQUE NOT NULL,
       PodID TEXT, JSON TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ContainerState(ID TEXT PRIMARY KEY NOT NULL, State INTEGER NOT NULL,
       ExitCode INTEGER, JSON TEXT NOT NULL)""",
]


def podman_container(paths: HostPaths, cid: str, *, name: str, image: str = "docker.io/library/busybox:latest",
                     pid: int = 0, pod: tuple[str, str] | None = None, files: dict[str, bytes] | None = None,
                     with_db: bool = True) -> str:
    annotations = {"io.container.manager": "libpod", "io.podman.annotations.autoremove": "FALSE",
                   "org.opencontainers.image.stopSignal": "15"}
    if pod:
        annotations.update({"io.kubernetes.cri-o.ContainerType": "container",
                            "io.kubernetes.cri-o.SandboxID": pod[0]})
    diff = storage_container(paths, cid, names=[name], metadata={"image-name": image, "image-id": "b" * 64,
                                                                 "name": name, "created-at": 1764266400},
                             annotations=annotations, pid=pid, files=files)
    if with_db:
        os.makedirs(paths.storage_root, exist_ok=True)
        conn = sqlite3.connect(os.path.join(paths.storage_root, "db.sql"))
        with conn:
            for stmt in PODMAN_SCHEMA:
                conn.execute(stmt)
            if pod:
                conn.execute("INSERT OR IGNORE INTO PodConfig VALUES (?, ?, ?)",
                             (pod[0], pod[1], json.dumps({"id": pod[0], "name": pod[1]})))
            conn.execute("INSERT INTO ContainerConfig VALUES (?, ?, ?, ?)", (
                cid, name, pod[0] if pod else None,
                json.dumps({"id": cid, "name": name, "pod": pod[0] if pod else "", "rootfsImageName": image,
                            "labels": {"app": name}, "spec": {"annotations": annotations}})))
            conn.execute("INSERT INTO ContainerState VALUES (?, ?, ?, ?)",
                         (cid, 3 if pid else 2, 0, json.dumps({"state": 3 if pid else 2, "pid": pid})))
        conn.close()
    return diff


def pallet_runtime_state(paths: HostPaths, cid: str, *, pid: int, pid_start: int = 0,
                         annotations: dict | None = None, base: str | None = None) -> None:
    # pallet-runtime's state.json (pallet/runtime/state.py): no status, it is derived
    _write(f"{base or paths.pallet_runtime_root}/{cid}/state.json",
           {"id": cid, "pid": pid, "pid_start": pid_start, "bundle": "/b", "rootfs": "/b/rootfs",
            "created": "2026-11-27T18:00:00.000000000Z", "owner": "", "annotations": annotations or {},
            "config": {}, "cgroup": None})


def bolt_bytes(tree: dict, page_size: int = 4096, inline: frozenset = frozenset()) -> bytes:
    """A bbolt file (format version 2) holding `tree` ({key: bytes | dict}; a dict is a bucket).

    For tests of pallet.debug.bolt: one leaf page per bucket, except buckets
    whose key is in `inline`, stored inline in their parent's value as bbolt
    does for small buckets. Layout per go.etcd.io/bbolt page.go and db.go.
    """
    import struct

    pages: list[bytes] = []   # pages[i] is page i + 3 (0, 1: meta; 2: freelist)

    def leaf(items: dict, pgid: int) -> bytes:
        elems, data = [], b""
        n = len(items)
        for i, (key, value) in enumerate(sorted(items.items())):
            key = key.encode() if isinstance(key, str) else key
            flags = 0
            if isinstance(value, dict):
                flags = 1
                if key in inline:
                    value = struct.pack("<QQ", 0, 0) + leaf(value, 0)
                else:
                    value = struct.pack("<QQ", build(value), 0)
            elif isinstance(value, str):
                value = value.encode()
            pos = (n - i) * 16 + len(data)   # from this element to its key
            elems.append(struct.pack("<IIII", flags, pos, len(key), len(value)))
            data += key + value
        body = struct.pack("<QHHI", pgid, 0x02, n, 0) + b"".join(elems) + data
        return body

    def build(items: dict) -> int:
        # children first (leaf() builds them), then this page and its overflow pages contiguously
        body = leaf(items, 0)
        padded = body + b"\0" * (-len(body) % page_size)
        overflow = len(padded) // page_size - 1
        pgid = len(pages) + 3
        pages.append(struct.pack("<QHHI", pgid, 0x02, struct.unpack_from("<H", body, 10)[0], overflow) + padded[16:])
        pages.extend([None] * overflow)  # slots the page spans
        return pgid

    root = build(tree)
    chunks = [p for p in pages if p is not None]
    high = 3 + len(pages)

    def meta(pgid: int, txid: int) -> bytes:
        fields = struct.pack("<IIIIQQQQQ", 0xED0CDAED, 2, page_size, 0, root, 0, 2, high, txid)
        h = 0xCBF29CE484222325
        for b in fields:
            h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
        page = struct.pack("<QHHI", pgid, 0x04, 0, 0) + fields + struct.pack("<Q", h)
        return page + b"\0" * (page_size - len(page))

    freelist = struct.pack("<QHHI", 2, 0x10, 0, 0)
    return meta(0, 1) + meta(1, 2) + freelist + b"\0" * (page_size - len(freelist)) + b"".join(chunks)


def containerd_meta(paths: HostPaths, containers: dict[tuple[str, str], dict],
                    snapshots: dict[tuple[str, str], int] | None = None) -> None:
    """containerd's meta.db with `containers` {(namespace, id): {"image", "labels", "snapshotKey"}},
    and the overlayfs snapshotter's metadata.db mapping each snapshot to its numbered dir."""
    namespaces: dict = {}
    snap_meta: dict = {}
    for (ns, cid), c in containers.items():
        bucket = namespaces.setdefault(ns, {"containers": {}, "snapshots": {"overlayfs": {}}})
        entry = {"image": c.get("image", ""), "labels": dict(c.get("labels", {})),
                 "runtime": {"name": "io.containerd.runc.v2"}, "createdat": b"\x01\x0f", "spec": b"\x0a\x00"}
        if c.get("snapshotKey"):
            entry.update(snapshotter="overlayfs", snapshotKey=c["snapshotKey"])
            backend = f"{ns}/{len(snap_meta) + 10}/{c['snapshotKey']}"
            bucket["snapshots"]["overlayfs"][c["snapshotKey"]] = {"name": backend, "children": {}}
            number = (snapshots or {}).get((ns, cid), len(snap_meta) + 1)
            snap_meta[backend] = {"id": bytes([number]), "kind": b"\x02"}   # varint < 128
            fs = paths.at(f"/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/{number}/fs")
            os.makedirs(fs, exist_ok=True)
        bucket["containers"][cid] = entry
    meta_db = paths.at("/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db")
    os.makedirs(os.path.dirname(meta_db), exist_ok=True)
    with open(meta_db, "wb") as f:
        # bbolt inlines small buckets: labels and runtime are inline here, as in real files
        f.write(bolt_bytes({"v1": {"version": b"\x03", **namespaces}},
                           inline=frozenset({b"labels", b"runtime", b"children"})))
    snap_db = paths.at("/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/metadata.db")
    os.makedirs(os.path.dirname(snap_db), exist_ok=True)
    with open(snap_db, "wb") as f:
        f.write(bolt_bytes({"v1": {"snapshots": snap_meta, "parents": {}}}))


# --- the readers against these layouts -------------------------------------------------------

CID = "9c8ad7d4885e2601a76bc3e1a4883a48a1c83e50ab4b7205176055a6fd6ec548"
SID = "1" * 64
UID = "aebd4ae8-8e1b-11e8-b174-3ca82ae95d28"


def _paths(tmp_path) -> HostPaths:
    return HostPaths(root=str(tmp_path / "node"), pallet_root=str(tmp_path / "pallet"),
                     pallet_runroot=str(tmp_path / "pallet-run"))


def test_docker_reader_with_kubernetes_labels(tmp_path):
    from pallet.debug.sources import docker

    p = _paths(tmp_path)
    labels = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
              "io.kubernetes.pod.uid": UID, "io.kubernetes.container.name": "nginx",
              "io.kubernetes.docker.type": "container"}
    docker_container(p, CID, name=f"k8s_nginx_web-0_shop_{UID}_0", image="nginx:1.25", labels=labels, pid=42,
                     files={"tmp/x": b"x" * 10000})
    loaded = docker.load(p)
    (r,) = loaded.records
    assert (r.runtime, r.id, r.image, r.pid) == ("docker", CID, "nginx:1.25", 42)
    assert (r.pod_name, r.pod_namespace, r.pod_uid) == ("web-0", "shop", UID)
    assert r.name == f"k8s_nginx_web-0_shop_{UID}_0"
    assert r.upper_dir.endswith("/diff") and os.path.exists(os.path.join(r.upper_dir, "tmp/x"))


def test_docker_reader_reports_unreadable_files(tmp_path):
    from pallet.debug.sources import docker

    p = _paths(tmp_path)
    docker_container(p, CID, name="ok")
    _write(f"{p.docker_root}/containers/{SID}/config.v2.json", "{not json")
    loaded = docker.load(p)
    assert [r.name for r in loaded.records] == ["ok"]
    assert len(loaded.problems) == 1 and SID in loaded.problems[0]


def test_absent_runtime_is_not_present(tmp_path):
    from pallet.debug.sources import containerd, crio, docker, pallet_state, podman

    p = _paths(tmp_path)
    for module in (docker, containerd, crio, podman, pallet_state):
        loaded = module.load(p)
        assert loaded.records == () and not loaded.present, module.RUNTIME


def test_containerd_cri_reader(tmp_path):
    from pallet.debug.sources import containerd

    p = _paths(tmp_path)
    containerd_task(p, SID, pid=10, annotations=cri_annotations(kind="sandbox", pod="web-0", namespace="shop",
                                                                uid=UID, sandbox_id=SID))
    containerd_task(p, CID, pid=11, annotations=cri_annotations(
        kind="container", pod="web-0", namespace="shop", uid=UID, sandbox_id=SID, container="nginx",
        image="docker.io/library/nginx:1.25"))
    containerd_task(p, "2" * 64, namespace="default", pid=12)
    by_id = {r.id: r for r in containerd.load(p).records}
    c = by_id[CID]
    assert (c.name, c.image, c.pid, c.namespace, c.kind) == ("nginx", "docker.io/library/nginx:1.25", 11,
                                                             "k8s.io", "container")
    assert (c.pod_name, c.pod_namespace, c.pod_uid) == ("web-0", "shop", UID)
    assert by_id[SID].kind == "sandbox" and by_id[SID].name == "web-0"
    assert by_id["2" * 64].namespace == "default" and by_id["2" * 64].pid == 12


def test_crio_and_podman_share_storage(tmp_path):
    from pallet.debug.sources import crio, podman

    p = _paths(tmp_path)
    crio_container(p, CID, pod="web-0", namespace="shop", uid=UID, container="nginx", sandbox_id=SID, pid=21)
    podman_container(p, "3" * 64, name="db", pid=22, pod=("4" * 64, "backend"))
    (c,) = crio.load(p).records
    assert (c.runtime, c.name, c.pod_name, c.pod_namespace, c.pod_uid, c.pid) == (
        "cri-o", "nginx", "web-0", "shop", UID, 21)
    assert c.image == "docker.io/library/busybox:latest" and c.upper_dir.endswith("/diff")
    (m,) = podman.load(p).records
    assert (m.runtime, m.name, m.pid, m.pod_name) == ("podman", "db", 22, "backend")


def test_crio_from_metadata_only(tmp_path):
    # config.json gone (container being removed): containers.json still names the pod
    from pallet.debug.sources import crio

    p = _paths(tmp_path)
    crio_container(p, CID, pod="web-0", namespace="shop", uid=UID, container="nginx", sandbox_id=SID)
    for base in (p.storage_root, p.storage_runroot):
        os.remove(f"{base}/overlay-containers/{CID}/userdata/config.json")
    (c,) = crio.load(p).records
    assert c.pod_name == f"k8s_web-0_shop_{UID}_0" and c.name == "nginx"


def test_podman_without_db_uses_containers_json(tmp_path):
    from pallet.debug.sources import podman

    p = _paths(tmp_path)
    podman_container(p, CID, name="web", pid=5, with_db=False)
    _write(f"{p.storage_root}/libpod/bolt_state.db", "bolt")
    loaded = podman.load(p)
    (m,) = loaded.records
    assert m.name == "web" and m.pid == 5
    assert any("bolt_state.db" in x for x in loaded.problems)


def test_pallet_reader_db_and_runtime_state(tmp_path):
    from pallet.debug.sources import pallet_state

    p = _paths(tmp_path)
    me = os.getpid()   # a live pid; the stale one below must read as stopped
    pallet_runtime_state(p, CID, pid=me, annotations={"io.pallet.container.name": "web"},
                         base=f"{p.pallet_runroot}/runtimes/pallet-runtime")
    pallet_runtime_state(p, SID, pid=me, pid_start=1, annotations={"io.pallet.container.name": "old"})
    os.makedirs(f"{p.pallet_root}/overlay/active/snap1/upper")
    conn = sqlite3.connect(os.path.join(p.pallet_root, "pallet.db"))
    with conn:
        conn.execute("CREATE TABLE containers (id TEXT PRIMARY KEY, name TEXT, image TEXT, status TEXT, pid INT,"
                     " snapshot TEXT)")
        conn.execute("INSERT INTO containers VALUES (?, 'web', 'busybox', 'running', ?, 'snap1')", (CID, me))
    conn.close()
    by_id = {r.id: r for r in pallet_state.load(p).records}
    r = by_id[CID]
    assert (r.name, r.image, r.pid) == ("web", "busybox", me)
    assert r.upper_dir == f"{p.pallet_root}/overlay/active/snap1/upper"
    assert by_id[SID].name == "old" and by_id[SID].pid == 0


def test_pallet_reader_tolerates_a_foreign_schema(tmp_path):
    from pallet.debug.sources import pallet_state

    p = _paths(tmp_path)
    os.makedirs(p.pallet_root)
    sqlite3.connect(os.path.join(p.pallet_root, "pallet.db")).close()   # empty DB, no table
    loaded = pallet_state.load(p)
    assert loaded.records == () and loaded.present and "pallet.db" in loaded.problems[0]


def test_catalog_find_by_name_and_prefix(tmp_path):
    from pallet.debug.catalog import Catalog
    from pallet.errors import NotFound

    p = _paths(tmp_path)
    docker_container(p, CID, name="web", pid=7)
    podman_container(p, "3" * 64, name="db", pid=8)
    cat = Catalog(p)
    assert cat.find("web").id == CID
    assert cat.find("333").runtime == "podman"
    assert cat.find(CID[:12]).name == "web"
    try:
        cat.find("nope")
    except NotFound as exc:
        assert "nope" in str(exc)
    else:
        raise AssertionError("expected NotFound")
    record, notes = cat.lookup(("containerd", "docker"), "5" * 64)
    assert record is None and any("containerd: no state" in n for n in notes)
