"""The `images` and `image_names` tables.

An image is its config digest (the image ID, like Docker); `image_names`
maps normalised references (`docker.io/library/busybox:latest`) to it.
`layers` is the JSON list of chain IDs, base first.
"""

from __future__ import annotations

from pallet.fastjson import dumps, loads
from pallet.values import frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing; sqlite3 only names types here (see pallet.metadata.db)
if TYPE_CHECKING:
    import sqlite3

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS images (
        id TEXT PRIMARY KEY,
        manifest_digest TEXT NOT NULL,
        manifest_media_type TEXT NOT NULL,
        created TEXT NOT NULL DEFAULT '',
        size INTEGER NOT NULL DEFAULT 0,
        layers TEXT NOT NULL DEFAULT '[]',
        parent TEXT NOT NULL DEFAULT '',
        added REAL NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS image_names (
        name TEXT PRIMARY KEY,
        image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        added REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS image_names_by_image ON image_names(image_id)",
]

COLUMNS = ("id", "manifest_digest", "manifest_media_type", "created", "size", "layers", "parent", "added")


@frozen
class ImageRow:
    id: str
    manifest_digest: str
    manifest_media_type: str
    created: str
    size: int
    layers: tuple[str, ...]
    parent: str
    added: float

    @property
    def top_layer(self) -> str:
        return self.layers[-1] if self.layers else ""


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM images"


def _row(values) -> ImageRow:
    d = dict(zip(COLUMNS, values))
    d["layers"] = tuple(loads(d["layers"]))
    return ImageRow(**d)


def upsert(conn: sqlite3.Connection, row: ImageRow) -> None:
    conn.execute(
        f"INSERT INTO images ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)}) "
        "ON CONFLICT(id) DO UPDATE SET manifest_digest = excluded.manifest_digest, "
        "manifest_media_type = excluded.manifest_media_type, size = excluded.size, layers = excluded.layers",
        (row.id, row.manifest_digest, row.manifest_media_type, row.created, row.size,
         dumps(list(row.layers)), row.parent, row.added),
    )


def get(conn: sqlite3.Connection, image_id: str) -> ImageRow | None:
    r = conn.execute(_SELECT + " WHERE id = ?", (image_id,)).fetchone()
    return _row(r) if r else None


def all_rows(conn: sqlite3.Connection) -> list[ImageRow]:
    return [_row(r) for r in conn.execute(_SELECT + " ORDER BY created DESC, added DESC")]


def by_prefix(conn: sqlite3.Connection, hex_prefix: str) -> list[ImageRow]:
    pattern = "sha256:" + hex_prefix.replace("%", "").replace("_", "") + "%"
    return [_row(r) for r in conn.execute(_SELECT + " WHERE id LIKE ?", (pattern,))]


def by_manifest(conn: sqlite3.Connection, manifest_digest: str) -> list[ImageRow]:
    return [_row(r) for r in conn.execute(_SELECT + " WHERE manifest_digest = ?", (manifest_digest,))]


def delete(conn: sqlite3.Connection, image_id: str) -> None:
    conn.execute("DELETE FROM image_names WHERE image_id = ?", (image_id,))
    conn.execute("DELETE FROM images WHERE id = ?", (image_id,))


# -- names -------------------------------------------------------------------

def set_name(conn: sqlite3.Connection, name: str, image_id: str, added: float) -> str | None:
    """Point `name` at `image_id`; return the image it pointed at before (or None)."""
    old = conn.execute("SELECT image_id FROM image_names WHERE name = ?", (name,)).fetchone()
    conn.execute("INSERT INTO image_names (name, image_id, added) VALUES (?, ?, ?) "
                 "ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id, added = excluded.added",
                 (name, image_id, added))
    return old[0] if old and old[0] != image_id else None


def remove_name(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("DELETE FROM image_names WHERE name = ?", (name,))


def resolve_name(conn: sqlite3.Connection, name: str) -> str | None:
    r = conn.execute("SELECT image_id FROM image_names WHERE name = ?", (name,)).fetchone()
    return r[0] if r else None


def names_of(conn: sqlite3.Connection, image_id: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM image_names WHERE image_id = ? ORDER BY added, name", (image_id,))]


def all_names(conn: sqlite3.Connection) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, iid in conn.execute("SELECT name, image_id FROM image_names ORDER BY added, name"):
        out.setdefault(iid, []).append(name)
    return out
