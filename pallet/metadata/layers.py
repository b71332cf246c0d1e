"""The `layers` table: one row per unpacked layer, keyed by chain ID.

`blob_digest` is the layer blob as received (compressed or not); `diff_id`
the digest of the uncompressed tar. Compressed blobs are kept in the content
store; an uncompressed one is not (`split` = 1): the snapshotter's tar-split
record and the layer's files give back the exact tar.
"""

from __future__ import annotations

from pallet.values import frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing; sqlite3 only names types here (see pallet.metadata.db)
if TYPE_CHECKING:
    import sqlite3

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS layers (
        chain_id TEXT PRIMARY KEY,
        diff_id TEXT NOT NULL,
        parent TEXT NOT NULL DEFAULT '',
        blob_digest TEXT NOT NULL,
        blob_size INTEGER NOT NULL,
        media_type TEXT NOT NULL,
        size INTEGER NOT NULL,
        created REAL NOT NULL
    )""",
]

# schema version 3: layers whose blob is not kept (rebuilt from the tar-split record)
ADD_SPLIT = ["ALTER TABLE layers ADD COLUMN split INTEGER NOT NULL DEFAULT 0"]

COLUMNS = ("chain_id", "diff_id", "parent", "blob_digest", "blob_size", "media_type", "size", "created", "split")


@frozen
class LayerRow:
    chain_id: str
    diff_id: str
    parent: str
    blob_digest: str
    blob_size: int
    media_type: str
    size: int
    created: float
    split: int = 0  # 1: no blob kept; the uncompressed tar is rebuilt from the layer's tar-split record


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM layers"


def insert(conn: sqlite3.Connection, row: LayerRow) -> None:
    """Insert unless the chain id is known already (same content by definition)."""
    conn.execute(f"INSERT OR IGNORE INTO layers ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})",
                 tuple(getattr(row, c) for c in COLUMNS))


def get(conn: sqlite3.Connection, chain_id: str) -> LayerRow | None:
    r = conn.execute(_SELECT + " WHERE chain_id = ?", (chain_id,)).fetchone()
    return LayerRow(**dict(zip(COLUMNS, r))) if r else None


def all_rows(conn: sqlite3.Connection) -> list[LayerRow]:
    return [LayerRow(**dict(zip(COLUMNS, r))) for r in conn.execute(_SELECT)]


def by_diff_id(conn: sqlite3.Connection, diff_id: str) -> list[LayerRow]:
    return [LayerRow(**dict(zip(COLUMNS, r))) for r in conn.execute(_SELECT + " WHERE diff_id = ?", (diff_id,))]


def delete(conn: sqlite3.Connection, chain_id: str) -> None:
    conn.execute("DELETE FROM layers WHERE chain_id = ?", (chain_id,))
