"""The `volumes` table: named volumes, their driver, labels and options."""

from __future__ import annotations

import sqlite3
from collections import namedtuple

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS volumes (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL DEFAULT 'local',
        created REAL NOT NULL,
        labels TEXT NOT NULL DEFAULT '{}',
        options TEXT NOT NULL DEFAULT '{}',
        anonymous INTEGER NOT NULL DEFAULT 0
    )""",
]


VolumeRow = namedtuple("VolumeRow", ("name", "driver", "created", "labels", "options", "anonymous"))


_COLS = ("name", "driver", "created", "labels", "options", "anonymous")


def ensure_schema(conn: sqlite3.Connection) -> None:
    for stmt in SCHEMA:
        conn.execute(stmt)


def insert(conn: sqlite3.Connection, row: VolumeRow) -> None:
    conn.execute(
        "INSERT INTO volumes (name, driver, created, labels, options, anonymous) VALUES (?, ?, ?, ?, ?, ?)",
        tuple(getattr(row, c) for c in _COLS),
    )


def get(conn: sqlite3.Connection, name: str) -> VolumeRow | None:
    r = conn.execute(f"SELECT {', '.join(_COLS)} FROM volumes WHERE name = ?", (name,)).fetchone()
    return VolumeRow(**dict(zip(_COLS, r))) if r else None


def all_rows(conn: sqlite3.Connection) -> list[VolumeRow]:
    return [VolumeRow(**dict(zip(_COLS, r))) for r in conn.execute(f"SELECT {', '.join(_COLS)} FROM volumes ORDER BY name")]


def delete(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
