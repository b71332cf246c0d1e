"""Open the engine database and run the container/volume schema.

Temporary home until pallet/metadata/db.py (migrations) lands; then this
module only adds the container and volume tables through it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager

from pallet.metadata import containers as container_table
from pallet.metadata import volumes as volume_table


def connect(root: str) -> sqlite3.Connection:
    os.makedirs(root, exist_ok=True)
    conn = sqlite3.connect(os.path.join(root, "pallet.db"), timeout=60, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 60000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


def ensure_schema(conn: sqlite3.Connection) -> None:
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if {"containers", "volumes"} <= have:
        return
    with write(conn):
        container_table.ensure_schema(conn)
        volume_table.ensure_schema(conn)


@contextmanager
def write(conn: sqlite3.Connection):
    """One write transaction: BEGIN IMMEDIATE takes the write lock up front (no upgrade deadlock)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
