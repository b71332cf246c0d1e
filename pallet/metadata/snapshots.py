"""The `snapshots` table: writable snapshots (a container's upper dir) and the layer they sit on.

GC treats every row's `parent` chain as in use.
"""

from __future__ import annotations

from pallet.values import frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing; sqlite3 only names types here (see pallet.metadata.db)
if TYPE_CHECKING:
    import sqlite3

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS snapshots (
        key TEXT PRIMARY KEY,
        parent TEXT NOT NULL DEFAULT '',
        image_id TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL
    )""",
]

COLUMNS = ("key", "parent", "image_id", "created")


@frozen
class SnapshotRow:
    key: str
    parent: str
    image_id: str
    created: float


def insert(conn: sqlite3.Connection, row: SnapshotRow) -> None:
    conn.execute("INSERT INTO snapshots (key, parent, image_id, created) VALUES (?, ?, ?, ?)",
                 (row.key, row.parent, row.image_id, row.created))


def get(conn: sqlite3.Connection, key: str) -> SnapshotRow | None:
    r = conn.execute("SELECT key, parent, image_id, created FROM snapshots WHERE key = ?", (key,)).fetchone()
    return SnapshotRow(**dict(zip(COLUMNS, r))) if r else None


def all_rows(conn: sqlite3.Connection) -> list[SnapshotRow]:
    return [SnapshotRow(**dict(zip(COLUMNS, r))) for r in conn.execute("SELECT key, parent, image_id, created FROM snapshots")]


def delete(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM snapshots WHERE key = ?", (key,))
