"""pallet's own containers: its SQLite DB (if the engine made one) and the runtimes' state.

Read-only and schema-tolerant: the engine's `containers` table
(<root>/pallet.db) is read with SELECT * and only the columns present
are used, so debug keeps working while the engine's schema grows. Live
PIDs come from the runtime state the engine keeps under
<runroot>/runtimes/<runtime>/<id>/state.json, and from pallet-runtime's
default root /run/pallet-runtime: pallet-runtime's state.json has `pid`
and `pid_start` (the status is derived, never stored), runc's has
`init_process_pid`. The engine names a container in the annotation
io.pallet.container.name; its writable layer is the snapshotter's
<root>/<driver>/active/<snapshot>/upper.
"""

from __future__ import annotations

import glob
import os
import sqlite3
from dataclasses import replace

from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord, pod_from_labels, read_json
from pallet.debug.sources import Loaded
from pallet.linux.proc import parse_stat

RUNTIME = "pallet"
NAME_ANNOTATION = "io.pallet.container.name"


def _alive(proc: str, pid: int, start: int | None) -> bool:
    """The pid runs and is the same process (start time), not a recycled pid."""
    if pid <= 0:
        return False
    try:
        with open(os.path.join(proc, str(pid), "stat")) as f:
            return not start or parse_stat(f.read()).start_time == start
    except (OSError, ValueError):
        return False


def _state_dirs(paths: HostPaths) -> list[str]:
    return [paths.pallet_runtime_root] + sorted(glob.glob(os.path.join(paths.pallet_runroot, "runtimes", "*")))


def _from_runtime_state(paths: HostPaths, base: str) -> list[ContainerRecord]:
    out = []
    for cid in sorted(os.listdir(base)):
        path = os.path.join(base, cid, "state.json")
        try:
            state = read_json(path)
        except (OSError, ValueError):
            continue
        ann = state.get("annotations") or {}
        pid = int(state.get("pid") or state.get("init_process_pid") or 0)
        start = state.get("pid_start") or state.get("init_process_start")
        out.append(ContainerRecord(
            runtime=RUNTIME, id=state.get("id") or cid, name=ann.get(NAME_ANNOTATION, ""),
            pid=pid if _alive(paths.proc, pid, int(start) if start else None) else 0,
            source=path, labels=dict(ann), **pod_from_labels(ann),
        ))
    return out


def _upper(root: str, snapshot: str) -> str:
    if not snapshot:
        return ""
    for path in glob.glob(os.path.join(glob.escape(root), "*", "active", glob.escape(snapshot), "upper")):
        return path
    return ""


def _from_db(path: str, root: str) -> list[ContainerRecord]:
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
            pid=int(r.get("pid") or 0) if running else 0, upper_dir=_upper(root, r.get("snapshot") or ""),
            source=path,
        ))
    return out


def load(paths: HostPaths) -> Loaded:
    records: dict[str, ContainerRecord] = {}
    problems: list[str] = []
    present = False
    for base in _state_dirs(paths):
        if not os.path.isdir(base):
            continue
        present = True
        try:
            for r in _from_runtime_state(paths, base):
                records.setdefault(r.id, r)
        except OSError as exc:
            problems.append(f"cannot read {base}: {exc.strerror}")
    db = os.path.join(paths.pallet_root, "pallet.db")
    if os.path.exists(db):
        present = True
        try:
            # the DB names the container and knows its layer; the runtime state has the live pid
            for r in _from_db(db, paths.pallet_root):
                live = records.get(r.id)
                records[r.id] = r if live is None else replace(
                    live, name=r.name or live.name, image=r.image or live.image, upper_dir=r.upper_dir)
        except sqlite3.Error as exc:
            problems.append(f"cannot read {db}: {exc}")
    return Loaded(RUNTIME, tuple(records.values()), tuple(problems), present)
