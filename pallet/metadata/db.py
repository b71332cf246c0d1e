"""The engine database: SQLite in WAL mode, one writer at a time, versioned schema.

    conn = open_db(root)      # pallet.db under --root; migrated to the latest version
    with write(conn): ...     # BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)

Migrations: `MIGRATIONS` is an ordered list of (version, description,
function). The schema version lives in `PRAGMA user_version`; `migrate()`
runs the missing ones in one immediate transaction, so parallel commands
opening an old database migrate it once. To add a table: write its module
with a `SCHEMA` list and append a migration here that runs it (never edit a
released migration; add a new one that ALTERs).
"""

from __future__ import annotations

import os

from pallet.errors import PalletError



def _statement_cache(maxsize: int):
    """What _sqlite3 asks of functools.lru_cache: `lru_cache(maxsize)(connection)` -> sql -> statement.

    A bounded dict does for a short-lived command; statements in use are replaced by the cursor itself."""
    def wrap(make):
        cache: dict = {}

        def cached(sql):
            stmt = cache.get(sql)
            if stmt is None:
                if len(cache) >= maxsize:
                    cache.clear()
                stmt = cache[sql] = make(sql)
            return stmt
        return cached
    return wrap


def _import_sqlite():
    """The C module the sqlite3 package wraps (the package adds datetime adapters and imports, ~2-6 ms a command).

    Its initialisation fetches functools.lru_cache, and functools brings collections: ~4 ms of every command
    on this VM. When functools is not loaded yet, _sqlite3 gets a stand-in module for that one lookup."""
    import sys

    if "functools" in sys.modules:
        import _sqlite3
        return _sqlite3
    stand_in = type(sys)("functools")
    stand_in.lru_cache = _statement_cache
    sys.modules["functools"] = stand_in
    try:
        import _sqlite3
    finally:
        if sys.modules.get("functools") is stand_in:
            del sys.modules["functools"]
    return _sqlite3


try:
    sqlite3 = _import_sqlite()
except ImportError:  # pragma: no cover - an interpreter whose sqlite3 is not split this way
    import sqlite3

# The exceptions every caller catches, without importing the sqlite3 package (same classes as sqlite3's).
Error = sqlite3.Error
IntegrityError = sqlite3.IntegrityError

FILENAME = "pallet.db"
BUSY_TIMEOUT_MS = 60_000


def _run(*modules) -> Callable[[sqlite3.Connection], None]:
    def apply(conn: sqlite3.Connection) -> None:
        for mod in modules:
            for stmt in mod.SCHEMA:
                conn.execute(stmt)
    return apply


def _v1(conn):
    from pallet.metadata import images, layers, snapshots
    _run(images, layers, snapshots)(conn)


def _v2(conn):
    from pallet.metadata import containers, volumes
    _run(containers, volumes)(conn)


def _v3(conn):
    from pallet.metadata import layers
    if "split" not in {r[1] for r in conn.execute("PRAGMA table_info(layers)")}:
        for stmt in layers.ADD_SPLIT:
            conn.execute(stmt)


MIGRATIONS: list[tuple[int, str, Callable[[sqlite3.Connection], None]]] = [
    (1, "images, image names, layers, snapshots", _v1),
    (2, "containers, volumes", _v2),
    (3, "layers.split (uncompressed layers kept as tar-split records)", _v3),
]


def latest_version() -> int:
    return MIGRATIONS[-1][0]


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


# Connections open_db made in this process, for close_all(). A connection is freed only by the cyclic garbage
# collector (its statement cache refers back to it), which a command's exit no longer runs (pallet.cli.main).
_opened: list[sqlite3.Connection] = []


def open_db(root: str) -> sqlite3.Connection:
    os.makedirs(root, exist_ok=True)
    conn = connect(os.path.join(root, FILENAME))
    _opened.append(conn)
    migrate(conn)
    return conn


def close_all() -> None:
    """Close every connection open_db made (the last one out checkpoints the WAL and removes it, as SQLite does
    on close); a command calls this once, as it ends."""
    while _opened:
        try:
            _opened.pop().close()
        except sqlite3.Error:
            pass


def version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to the latest version; return the version reached."""
    if version(conn) == latest_version():
        return latest_version()
    with write(conn):
        current = version(conn)  # re-read under the write lock: another command may have migrated
        if current > latest_version():
            raise PalletError(f"database schema version {current} is newer than this pallet ({latest_version()}): upgrade pallet")
        for ver, _desc, apply in MIGRATIONS:
            if ver > current:
                apply(conn)
                conn.execute(f"PRAGMA user_version = {ver}")
    return latest_version()


class write:
    """`with write(conn):` one write transaction; BEGIN IMMEDIATE takes the write lock up front (no
    upgrade deadlock); ROLLBACK on any exception. A class, not @contextmanager: no contextlib import
    on every command's path, and no generator per transaction."""

    __slots__ = ("conn",)

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.conn.execute("ROLLBACK" if exc_type is not None else "COMMIT")
        return False
