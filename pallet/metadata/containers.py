"""The `containers` table: one row per container, its frozen config and its state.

`config` is the ContainerConfig as JSON (fixed at create); the state columns
change with each lifecycle verb. Writers use `BEGIN IMMEDIATE` so parallel
pallet processes serialize on the write lock instead of failing.
"""

from __future__ import annotations

from pallet.values import frozen

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing; sqlite3 only names types here (see pallet.metadata.db)
if TYPE_CHECKING:
    import sqlite3

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        image TEXT NOT NULL,
        image_id TEXT NOT NULL DEFAULT '',
        created REAL NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER NOT NULL DEFAULT 0,
        pid_start INTEGER NOT NULL DEFAULT 0,
        monitor_pid INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER NOT NULL DEFAULT 0,
        oom_killed INTEGER NOT NULL DEFAULT 0,
        error TEXT NOT NULL DEFAULT '',
        started_at REAL NOT NULL DEFAULT 0,
        finished_at REAL NOT NULL DEFAULT 0,
        restart_count INTEGER NOT NULL DEFAULT 0,
        stopped_by_user INTEGER NOT NULL DEFAULT 0,
        rootfs TEXT NOT NULL DEFAULT '',
        snapshot TEXT NOT NULL DEFAULT ''
    )""",
]

COLUMNS = (
    "id", "name", "image", "image_id", "created", "config", "status", "pid", "pid_start",
    "monitor_pid", "exit_code", "oom_killed", "error", "started_at", "finished_at",
    "restart_count", "stopped_by_user", "rootfs", "snapshot",
)

STATE_COLUMNS = frozenset(COLUMNS) - {"id", "created", "config", "image", "image_id"}




@frozen  # not a dataclass or namedtuple: `import dataclasses` costs ~20 ms, collections ~2 ms of every command
class ContainerRow:
    id: str
    name: str
    image: str
    image_id: str
    created: float
    config: str
    status: str
    pid: int
    pid_start: int
    monitor_pid: int
    exit_code: int
    oom_killed: int
    error: str
    started_at: float
    finished_at: float
    restart_count: int
    stopped_by_user: int
    rootfs: str
    snapshot: str


assert tuple(ContainerRow.__annotations__) == COLUMNS  # the SELECT lists COLUMNS in that order


def ensure_schema(conn: sqlite3.Connection) -> None:
    for stmt in SCHEMA:
        conn.execute(stmt)


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM containers"


def _row(values) -> ContainerRow:
    return ContainerRow(**dict(zip(COLUMNS, values)))  # the keyword path of `frozen` is the fast one


def insert(conn: sqlite3.Connection, row: ContainerRow) -> None:
    """Insert a row; a taken name or id raises sqlite3.IntegrityError."""
    marks = ", ".join("?" for _ in COLUMNS)
    conn.execute(
        f"INSERT INTO containers ({', '.join(COLUMNS)}) VALUES ({marks})",
        tuple(getattr(row, c) for c in COLUMNS),
    )


def get(conn: sqlite3.Connection, cid: str) -> ContainerRow | None:
    r = conn.execute(_SELECT + " WHERE id = ?", (cid,)).fetchone()
    return _row(r) if r else None


def all_rows(conn: sqlite3.Connection) -> list[ContainerRow]:
    return [_row(r) for r in conn.execute(_SELECT + " ORDER BY created DESC")]


def by_status(conn: sqlite3.Connection, statuses: tuple[str, ...]) -> list[ContainerRow]:
    marks = ", ".join("?" for _ in statuses)
    return [_row(r) for r in conn.execute(_SELECT + f" WHERE status IN ({marks})", statuses)]


def lookup(conn: sqlite3.Connection, ref: str) -> list[tuple[str, str]]:
    """(id, name) of rows whose name is `ref` exactly, else whose id starts with `ref`."""
    exact = conn.execute("SELECT id, name FROM containers WHERE name = ? OR id = ?", (ref, ref)).fetchall()
    if exact:
        return exact
    pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return conn.execute("SELECT id, name FROM containers WHERE id LIKE ? ESCAPE '\\'", (pattern,)).fetchall()


def update(conn: sqlite3.Connection, cid: str, **fields) -> None:
    bad = set(fields) - STATE_COLUMNS
    if bad:
        raise ValueError(f"not state columns: {sorted(bad)}")
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE containers SET {sets} WHERE id = ?", (*fields.values(), cid))


def delete(conn: sqlite3.Connection, cid: str) -> None:
    conn.execute("DELETE FROM containers WHERE id = ?", (cid,))


def names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM containers")}
