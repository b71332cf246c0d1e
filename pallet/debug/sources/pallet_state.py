"""pallet's own containers: its SQLite DB (if the engine made one) and pallet-runtime's state.

Read-only and schema-tolerant: the engine's `containers` table is read with
SELECT * and only the columns present are used, so debug keeps working
while the engine's schema grows. `<runtime root>/<id>/state.json` is the
OCI state (id, pid, bundle, annotations) pallet-runtime writes.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace

from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord, pod_from_labels, read_json
from pallet.debug.sources import Loaded

RUNTIME = "pallet"


def _from_db(path: str) -> list[ContainerRecord]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT * FROM containers").fetchall()
    finally:
        conn.close()
    out = []
    for row in rows:
        r = dict(row)
        running = r.get("status") in ("running", "paused", None)
        out.append(ContainerRecord(
            runtime=RUNTIME, id=r.get("id", ""), name=r.get("name", ""), image=r.get("image", ""),
            pid=int(r.get("pid") or 0) if running else 0, upper_dir="", source=path,
        ))
    return out


def _from_runtime_state(base: str) -> list[ContainerRecord]:
    out = []
    for cid in sorted(os.listdir(base)):
        path = os.path.join(base, cid, "state.json")
        try:
            state = read_json(path)
        except (OSError, ValueError):
            continue
        ann = state.get("annotations") or {}
        out.append(ContainerRecord(
            runtime=RUNTIME, id=state.get("id") or cid, name=ann.get("io.pallet.name", ""),
            image=ann.get("io.pallet.image", ""),
            pid=int(state.get("pid") or 0) if state.get("status") in ("running", "created", "paused") else 0,
            source=path, labels=dict(ann), **pod_from_labels(ann),
        ))
    return out


def load(paths: HostPaths) -> Loaded:
    records: dict[str, ContainerRecord] = {}
    problems: list[str] = []
    present = False
    base = paths.pallet_runtime_root
    if os.path.isdir(base):
        present = True
        try:
            records.update((r.id, r) for r in _from_runtime_state(base))
        except OSError as exc:
            problems.append(f"cannot read {base}: {exc.strerror}")
    db = os.path.join(paths.pallet_root, "pallet.db")
    if os.path.exists(db):
        present = True
        try:
            # the DB names the container; the runtime state has the live pid
            for r in _from_db(db):
                live = records.get(r.id)
                records[r.id] = r if live is None else replace(live, name=r.name or live.name, image=r.image or live.image)
        except sqlite3.Error as exc:
            problems.append(f"cannot read {db}: {exc}")
    return Loaded(RUNTIME, tuple(records.values()), tuple(problems), present)
