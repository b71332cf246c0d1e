"""What the container use cases need from the engine context, and where things live on disk.

`ContainerEnv` wraps the shared EngineContext fields (root, runroot, db,
daemon config) with the container paths; it is passed explicitly, never global.
"""

from __future__ import annotations

import os

from pallet.engine.daemon_config import DaemonConfig
from pallet.errors import InvalidArgument, PalletError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without typing; sqlite3 only names types here (see pallet.metadata.db)
if TYPE_CHECKING:
    import sqlite3


class ContainerEnv:
    def __init__(self, *, root: str, runroot: str, db: sqlite3.Connection, daemon: DaemonConfig,
                 config_path: str = "", runtime_override: str | None = None):
        self.root, self.runroot, self.db, self.daemon = root, runroot, db, daemon
        self.config_path, self.runtime_override = config_path, runtime_override
        self._images = None
        self._runtimes: dict = {}

    @property
    def images(self):
        """The images' EngineContext, sharing this db connection; opened on first use (a --rootfs run never needs it)."""
        if self._images is None:
            from pallet.engine.context import EngineContext
            from pallet.store.content import ContentStore
            from pallet.store.snapshotter import open_snapshotter

            drv = (self.daemon.raw.get("storage-driver") if self.daemon.raw else None) or "overlay"
            self._images = EngineContext(root=self.root, runroot=self.runroot, db=self.db,
                                         content=ContentStore(os.path.join(self.root, "content")),
                                         snapshotter=open_snapshotter(self.root, drv), daemon=self.daemon,
                                         config_path=self.config_path)
        return self._images

    # -- paths -----------------------------------------------------------
    def container_dir(self, cid: str) -> str:
        return os.path.join(self.root, "containers", cid)

    def run_dir(self, cid: str) -> str:
        return os.path.join(self.runroot, "containers", cid)

    def exit_file(self, cid: str) -> str:
        return os.path.join(self.runroot, "exits", cid)

    def lock_file(self, cid: str) -> str:
        return os.path.join(self.runroot, "locks", cid)

    def log_path(self, cid: str) -> str:
        return os.path.join(self.container_dir(cid), f"{cid}-json.log")

    def volumes_dir(self) -> str:
        return os.path.join(self.root, "volumes")

    def runtime_name(self, configured: str = "") -> str:
        return configured or self.runtime_override or self.daemon.default_runtime or default_runtime()

    def runtime(self, name: str):
        if name not in self._runtimes:
            from pallet.engine.runtimes import open_runtime

            self._runtimes[name] = open_runtime(name, self.runroot, self.daemon.runtimes)
        return self._runtimes[name]


def default_runtime() -> str:
    from pallet.engine.runtimes import default_runtime_name

    return default_runtime_name()


class BadSetup(InvalidArgument):
    """--root, --runroot, --config or the database is not usable: exit 125, as any bad global option."""

    exit_code = 125


def check_dirs(*dirs: tuple[str, str]) -> None:
    """Each (flag, path) is a writable directory, or can be made one; checked before anything is created, so a bad
    --runroot leaves no --root behind (and the other way round). BadSetup names the flag, the path and the cause."""
    for flag, path in dirs:
        probe = path
        while not os.path.lexists(probe):  # the nearest existing ancestor is where makedirs starts writing
            probe = os.path.dirname(probe)
        if not os.path.isdir(probe):
            cause = "not a directory"
        elif not os.access(probe, os.W_OK | os.X_OK):
            cause = "on a read-only file system" if _read_only(probe) else "not writable"
        else:
            continue
        raise BadSetup(f"{flag} {path}: {'' if probe == path else probe + ' is '}{cause}")


def _read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def open_env(*, root: str, runroot: str, config: str, runtime: str | None = None, config_required: bool = False) -> ContainerEnv:
    from pallet.engine import daemon_config
    from pallet.metadata.db import open_db

    try:
        daemon = daemon_config.load(config, required=config_required)
    except InvalidArgument as exc:
        raise BadSetup(str(exc)) from None
    check_dirs(("--root", root), ("--runroot", runroot))
    try:
        conn = open_db(root)  # first: a damaged database leaves no runroot made
        for d in ("exits", "locks", "containers"):
            os.makedirs(os.path.join(runroot, d), exist_ok=True)
    except OSError as exc:  # a race with the checks above, a full disk
        cause = exc.strerror or str(exc)
        raise BadSetup(f"{exc.filename or root}: {cause[:1].lower()}{cause[1:]}") from None
    except PalletError:
        raise
    except Exception as exc:  # sqlite3.Error (sqlite3 is imported by open_db, not here): a damaged pallet.db
        if type(exc).__module__ != "sqlite3":
            raise
        raise BadSetup(f"database {os.path.join(root, 'pallet.db')}: {exc}") from None
    return ContainerEnv(root=root, runroot=runroot, db=conn, daemon=daemon, config_path=config, runtime_override=runtime)
