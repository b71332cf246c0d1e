"""Named and anonymous volumes: root/volumes/<name>/_data, a row in the volumes table."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time

from pallet.engine.config import ContainerConfig, valid_volume_name
from pallet.engine.dbconn import write
from pallet.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from pallet.metadata import containers as ctable
from pallet.metadata import volumes as table


def anonymous_name(cid: str, dest: str) -> str:
    import hashlib  # lazily: ~3 ms of OpenSSL set-up, and only anonymous volumes need it

    return hashlib.sha256(f"{cid}:{dest}".encode()).hexdigest()


def data_dir(env, name: str) -> str:
    return os.path.join(env.volumes_dir(), name, "_data")


def create(env, name: str = "", *, labels: dict | None = None, driver: str = "local", options: dict | None = None,
           anonymous: bool = False) -> table.VolumeRow:
    if driver != "local":
        raise InvalidArgument(f"volume driver {driver!r} is not supported (local)")
    if not name:
        name = os.urandom(32).hex()
        anonymous = True
    if not valid_volume_name(name):
        raise InvalidArgument(f"invalid volume name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    if options:  # the local driver's mount options (type=tmpfs, device=...) would be stored and never applied
        raise InvalidArgument(f"volume {name}: driver options are not supported ({', '.join(sorted(options))}): "
                              "a local volume is a plain directory")
    row = table.VolumeRow(name=name, driver=driver, created=time.time(), labels=json.dumps(labels or {}),
                          options=json.dumps(options or {}), anonymous=int(anonymous))
    os.makedirs(data_dir(env, name), exist_ok=True)
    try:
        with write(env.db):
            table.insert(env.db, row)
    except sqlite3.IntegrityError:
        raise AlreadyExists(f"volume {name} already exists") from None
    return row


def ensure(env, name: str, *, anonymous: bool = False, cid: str = "", dest: str = "") -> bool:
    """Make the volume if it is missing; True when this call created it."""
    if anonymous:
        name = anonymous_name(cid, dest)
    if table.get(env.db, name) is not None:
        return False
    try:
        create(env, name, anonymous=anonymous)
    except AlreadyExists:
        return False
    return True


def users(env, name: str) -> list[str]:
    """Names of containers that mount the volume."""
    out = []
    for row in ctable.all_rows(env.db):
        cfg = ContainerConfig.from_json(row.config)
        for m in cfg.mounts:
            if m.type == "volume" and (m.source or anonymous_name(cfg.id, m.destination)) == name:
                out.append(row.name)
    return out


def get(env, name: str) -> table.VolumeRow:
    row = table.get(env.db, name)
    if row is None:
        raise NotFound(f"no such volume: {name}")
    return row


def remove(env, name: str, *, force: bool = False) -> None:
    row = table.get(env.db, name)
    if row is None:
        if force:
            return
        raise NotFound(f"no such volume: {name}")
    used = users(env, name)
    if used:
        raise Conflict(f"volume {name} is in use by container(s) {', '.join(used)}: remove them first")
    with write(env.db):
        table.delete(env.db, name)
    shutil.rmtree(os.path.join(env.volumes_dir(), name), ignore_errors=True)


def list_all(env) -> list[table.VolumeRow]:
    return table.all_rows(env.db)


def prune(env, *, all_volumes: bool = False) -> tuple[list[str], int]:
    """Remove unused volumes (anonymous only unless `all_volumes`, as Docker 23+); return names and bytes freed."""
    removed, freed = [], 0
    for row in table.all_rows(env.db):
        if not (row.anonymous or all_volumes) or users(env, row.name):
            continue
        size = dir_size(os.path.join(env.volumes_dir(), row.name))
        remove(env, row.name, force=True)
        removed.append(row.name)
        freed += size
    return removed, freed


def dir_size(path: str) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(dirpath, f)).st_blocks * 512
            except OSError:
                pass
    return total


def inspect(env, row: table.VolumeRow) -> dict:
    return {
        "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row.created)),
        "Driver": row.driver,
        "Labels": json.loads(row.labels) or None,
        "Mountpoint": data_dir(env, row.name),
        "Name": row.name,
        "Options": json.loads(row.options) or None,
        "Scope": "local",
    }
