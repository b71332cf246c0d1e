"""EngineContext: what every use case needs, opened once per command and passed explicitly.

    ctx = EngineContext.open(root=..., runroot=..., config=...)
    ctx.db            sqlite3 connection, schema migrated (pallet.metadata.db)
    ctx.content       ContentStore at <root>/content
    ctx.snapshotter   OverlaySnapshotter at <root>/overlay
    ctx.daemon        DaemonConfig (daemon.json)
    ctx.tmp_dir       <root>/tmp (spooled archives; same fs as the store)

No globals: the CLI builds one from its GlobalOptions (`from_options`).
`image_users` is the hook the container use cases fill so `rmi` can refuse
an image a container uses (by default: the snapshots table's image ids).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing; sqlite3 only names types here (see pallet.metadata.db)
if TYPE_CHECKING:
    import sqlite3


def default_driver(root: str) -> str:
    """overlay, unless the root itself is on overlayfs (no overlay on overlay): then vfs."""
    try:
        from pallet.linux.statfs import BY_MAGIC, statfs

        if BY_MAGIC.get(statfs(root).f_type) == "overlayfs":
            return "vfs"
    except (OSError, ImportError):
        pass
    return "overlay"


class EngineContext:
    """A plain class, not a dataclass: it is opened on the path of `run`, where `import dataclasses`
    alone costs ~10-20 ms."""

    def __init__(self, root: str, runroot: str, db: sqlite3.Connection, content: object, snapshotter: object,
                 daemon: object, config_path: str = "",
                 image_users: "Callable[[EngineContext, str], list[str]] | None" = None, extra: dict | None = None):
        self.root, self.runroot, self.db = root, runroot, db
        self.content, self.snapshotter, self.daemon = content, snapshotter, daemon
        self.config_path, self.image_users = config_path, image_users
        self.extra = {} if extra is None else extra

    def __repr__(self) -> str:
        return f"EngineContext(root={self.root!r}, runroot={self.runroot!r})"

    @property
    def tmp_dir(self) -> str:
        return os.path.join(self.root, "tmp")

    @property
    def storage_opts(self) -> dict[str, str]:
        out = {}
        for opt in getattr(self.daemon, "storage_opts", ()) or ():
            k, _, v = opt.partition("=")
            out[k.strip().removeprefix("overlay2.").removeprefix("overlay.")] = v.strip()
        return out

    @classmethod
    def open(cls, *, root: str, runroot: str, config: str = "", driver: str | None = None,
             config_required: bool = False) -> "EngineContext":
        from pallet.engine import daemon_config
        from pallet.metadata import db as _db
        from pallet.store.content import ContentStore
        from pallet.store.snapshotter import open_snapshotter

        from pallet.engine.env import BadSetup, check_dirs
        from pallet.errors import InvalidArgument

        try:
            daemon = daemon_config.load(config, required=config_required) if config else daemon_config.DaemonConfig()
        except InvalidArgument as exc:
            raise BadSetup(str(exc)) from None
        check_dirs(("--root", root), ("--runroot", runroot))  # before creating either
        os.makedirs(root, 0o711, exist_ok=True)
        drv = (driver or os.environ.get("PALLET_STORAGE_DRIVER")
               or (daemon.raw.get("storage-driver") if getattr(daemon, "raw", None) else None) or default_driver(root))
        import sqlite3

        try:
            conn = _db.open_db(root)
        except sqlite3.Error as exc:
            raise BadSetup(f"database {os.path.join(root, _db.FILENAME)}: {exc}") from None
        os.makedirs(runroot, 0o700, exist_ok=True)  # after the database: a damaged one leaves no runroot made
        return cls(root=root, runroot=runroot, db=conn,
                   content=ContentStore(os.path.join(root, "content")),
                   snapshotter=open_snapshotter(root, drv), daemon=daemon, config_path=config)

    @classmethod
    def for_connection(cls, *, root: str, runroot: str, db: sqlite3.Connection, daemon, config_path: str = "",
                       driver: str | None = None) -> "EngineContext":
        """Share an open connection (the container use cases'): migrates it and picks the driver as open() does."""
        from pallet.metadata import db as _db
        from pallet.store.content import ContentStore
        from pallet.store.snapshotter import open_snapshotter

        _db.migrate(db)
        drv = (driver or os.environ.get("PALLET_STORAGE_DRIVER")
               or (daemon.raw.get("storage-driver") if getattr(daemon, "raw", None) else None) or default_driver(root))
        return cls(root=root, runroot=runroot, db=db, content=ContentStore(os.path.join(root, "content")),
                   snapshotter=open_snapshotter(root, drv), daemon=daemon, config_path=config_path)

    @classmethod
    def from_options(cls, opts) -> "EngineContext":
        """From the CLI's GlobalOptions (root, runroot, config)."""
        return cls.open(root=opts.root, runroot=opts.runroot, config=opts.config,
                        config_required=getattr(opts, "config_set", False))

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
