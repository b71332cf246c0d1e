"""Podman's containers: libpod's SQLite state, then containers/storage.

Podman 4.8+ can keep its state in SQLite, the default for new installs
since Podman 5.0: <graphroot>/db.sql with tables ContainerConfig(ID, Name,
PodID, JSON), ContainerState(ID, State, ExitCode, JSON) and
PodConfig(ID, Name, JSON) (libpod/sqlite_state_internal.go). The JSON
columns are libpod's ContainerConfig (`name`, `pod`, `rootfsImageName`,
`labels`) and ContainerState (`pid`). Older installs use bolt_state.db,
which is not parsed here: names then come from containers.json.
"""

from __future__ import annotations

import json
import os
import sqlite3

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
    elif os.path.exists(os.path.join(paths.storage_root, "libpod", "bolt_state.db")):
        problems.append("podman's bolt_state.db is not parsed: names come from containers.json")
    # db.sql knows containers whose storage entry is gone, and names the ones in it
    ids = list(mine) + [cid for cid in db if cid not in mine]
    records = tuple(_record(mine.get(cid), cid, db) for cid in ids)
    return Loaded(RUNTIME, records, tuple(problems), present)
