"""Podman's containers: libpod's SQLite state, then containers/storage.

Podman 4.8+ can keep its state in SQLite, the default for new installs
since Podman 5.0: <graphroot>/db.sql with tables ContainerConfig(ID, Name,
PodID, JSON), ContainerState(ID, State, ExitCode, JSON) and
PodConfig(ID, Name, JSON) (libpod/sqlite_state_internal.go). Before that
(and on upgraded installs) the same JSON lives in bbolt,
<graphroot>/libpod/bolt_state.db: ctr/<id>/{config, state, pod-id} and
pod/<id>/config (checked against Podman 4.3's real files). The JSON is
libpod's ContainerConfig (`name`, `pod`, `rootfsImageName`, `labels`) and
ContainerState (`pid`). Without either, names come from containers.json.
"""

from __future__ import annotations

import json
import os
import sqlite3

from pallet.debug.bolt import BoltFile, Bucket
from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord
from pallet.debug.sources import Loaded
from pallet.debug.sources.storage import StoredContainer, load_storage

RUNTIME = "podman"


def _read_db(path: str) -> dict[str, dict]:
    """id -> {"name", "image", "pod", "pid", "labels"} from db.sql, opened read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    try:
        pods = {pid: name for pid, name in conn.execute("SELECT ID, Name FROM PodConfig")}
        states = {}
        for cid, state_json in conn.execute("SELECT ID, JSON FROM ContainerState"):
            try:
                states[cid] = json.loads(state_json)
            except ValueError:
                states[cid] = {}
        out = {}
        for cid, name, pod_id, config_json in conn.execute("SELECT ID, Name, PodID, JSON FROM ContainerConfig"):
            try:
                config = json.loads(config_json)
            except ValueError:
                config = {}
            out[cid] = {
                "name": name, "image": config.get("rootfsImageName", ""), "pod_id": pod_id or "",
                "pod": pods.get(pod_id, "") if pod_id else "", "pid": int(states.get(cid, {}).get("pid") or 0),
                "labels": config.get("labels") or {},
            }
        return out
    finally:
        conn.close()


def _read_bolt(path: str) -> dict[str, dict]:
    """The same as _read_db, from bolt_state.db."""
    root = BoltFile(path).bucket()
    pods = {}
    pod_bucket = root.get("pod")
    if isinstance(pod_bucket, Bucket):
        for pod_id, b in pod_bucket.buckets():
            try:
                pods[pod_id.decode()] = json.loads(b.get("config") or b"{}").get("name", "")
            except ValueError:
                pass
    out = {}
    ctrs = root.get("ctr")
    for cid, b in ctrs.buckets() if isinstance(ctrs, Bucket) else ():
        try:
            config = json.loads(b.get("config") or b"{}")
            state = json.loads(b.get("state") or b"{}")
        except ValueError:
            config, state = {}, {}
        pod_id = config.get("pod", "")
        out[cid.decode()] = {
            "name": config.get("name", ""), "image": config.get("rootfsImageName", ""), "pod_id": pod_id,
            "pod": pods.get(pod_id, ""), "pid": int(state.get("pid") or 0), "labels": config.get("labels") or {},
        }
    return out


def _record(c: StoredContainer | None, cid: str, db: dict) -> ContainerRecord:
    info = db.get(cid, {})
    meta = c.metadata if c else {}
    return ContainerRecord(
        runtime=RUNTIME, id=cid,
        name=info.get("name") or meta.get("name") or (c.names[0] if c and c.names else ""),
        image=info.get("image") or meta.get("image-name", ""),
        pid=info.get("pid") or (c.pid if c else 0),
        pod_name=info.get("pod", ""),
        upper_dir=c.upper_dir if c else "", source=(c.config_path if c else ""),
        labels=dict(info.get("labels") or {}),
    )


def load(paths: HostPaths) -> Loaded:
    stored, problems, present = load_storage(paths)
    mine = {c.id: c for c in stored if c.owner == RUNTIME}
    db: dict = {}
    db_path = os.path.join(paths.storage_root, "db.sql")
    if os.path.exists(db_path):
        present = True
        try:
            db = _read_db(db_path)
        except sqlite3.Error as exc:
            problems.append(f"cannot read {db_path}: {exc}")
    else:
        bolt_path = os.path.join(paths.storage_root, "libpod", "bolt_state.db")
        if os.path.exists(bolt_path):
            present = True
            try:
                db = _read_bolt(bolt_path)
            except (OSError, ValueError, KeyError, IndexError) as exc:
                problems.append(f"cannot read {bolt_path}: {getattr(exc, 'strerror', None) or exc}")
    # db.sql knows containers whose storage entry is gone, and names the ones in it
    ids = list(mine) + [cid for cid in db if cid not in mine]
    records = tuple(_record(mine.get(cid), cid, db) for cid in ids)
    return Loaded(RUNTIME, records, tuple(problems), present)
