"""The SQLite schema: migrations from an older version, versions, parallel openers."""

import sqlite3
import threading

from pallet.metadata import db, images, layers


def test_fresh_database_is_at_the_latest_version(tmp_path):
    conn = db.open_db(str(tmp_path))
    assert db.version(conn) == db.latest_version()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cols = [r[1] for r in conn.execute("PRAGMA table_info(layers)")]
    assert "split" in cols


def test_version_1_database_is_migrated(tmp_path):
    conn = sqlite3.connect(tmp_path / db.FILENAME, isolation_level=None)
    db.MIGRATIONS[0][2](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO layers VALUES ('sha256:a', 'sha256:a', '', 'sha256:a', 1, 't', 1, 0)")
    conn.close()
    conn = db.open_db(str(tmp_path))
    assert db.version(conn) == db.latest_version()
    row = layers.get(conn, "sha256:a")
    assert row.split == 0 and row.size == 1


def test_parallel_openers_migrate_once(tmp_path):
    errors = []

    def go(i):
        try:
            c = db.open_db(str(tmp_path))
            with db.write(c):
                images.set_name(c, f"n{i}", "sha256:x", 0.0)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)

    conn = db.open_db(str(tmp_path))
    images.upsert(conn, images.ImageRow(id="sha256:x", manifest_digest="sha256:m", manifest_media_type="t", created="",
                                        size=0, layers=(), parent="", added=0.0))
    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(images.names_of(conn, "sha256:x")) == 8


def test_sqlite_module_loads_without_functools_and_caches_statements(tmp_path):
    # pallet.metadata.db gives _sqlite3 a stand-in for functools.lru_cache (functools brings collections,
    # ~4 ms of every command); statements must still work, repeated and concurrently in use.
    import subprocess
    import sys

    code = (
        "import sys; from pallet.metadata import db; assert 'functools' not in sys.modules, 'functools loaded'\n"
        f"conn = db.open_db({str(tmp_path)!r})\n"
        "conn.execute('CREATE TABLE t (x INTEGER)')\n"
        "for i in range(300): conn.execute('INSERT INTO t VALUES (?)', (i,))\n"
        "outer = conn.execute('SELECT x FROM t ORDER BY x')\n"
        "inner = [conn.execute('SELECT x FROM t ORDER BY x').fetchone()[0] for _ in range(3)]\n"
        "assert inner == [0, 0, 0] and [r[0] for r in outer] == list(range(300))\n"
        "for i in range(200): conn.execute(f'SELECT {i}').fetchone()\n"  # more distinct statements than the cache holds
        "import functools; assert hasattr(functools, 'reduce'), 'the stand-in stayed'\n"
        "print('ok')"
    )
    r = subprocess.run([sys.executable, "-S", "-c", "import sys; sys.path[:0] = " + repr(sys.path) + "\n" + code],
                       capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr
