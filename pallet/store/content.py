"""Content-addressed blob store: `content/blobs/sha256/<hex>`, writes through `content/ingest/`.

Lifecycle of a write (containerd's content.Writer, umoci's cas.Engine)::

    w = store.writer()        # ingest/<random>/data, opened O_EXCL
    w.write(chunk) ...        # hashed on the fly
    w.commit(expected=...)    # verify size + sha256, fsync, rename into
                              # blobs/, fsync the directory -> visible
    w.abort()                 # (or any exception in `with`) removes the ingest

A blob is never visible half-written: readers only look in blobs/, and a
blob gets there by rename(2) after fsync. Ingest dirs of dead processes are
removed by `clean_stale_ingests()` (GC calls it).

Garbage collection and in-flight writes: every command that writes blobs
holds a shared flock on `content/gc.lock` for its whole run (`lease()`); GC
takes it exclusively, so blobs committed by a load that has not yet written
its image record (the in-flight roots) are never swept.
"""

from __future__ import annotations

import errno
import fcntl
import os

from pallet.errors import InvalidArgument, NotFound
from pallet.linux.flock import FileLock
from pallet.oci import digest as _digest

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms on the path of `run`)
if TYPE_CHECKING:
    from typing import BinaryIO, Iterator

CHUNK = 1 << 20


def _rmtree(path: str) -> None:
    from pallet.linux.rmtree import remove_tree  # lazily: reading a blob never removes anything

    remove_tree(path, ignore_errors=True)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Writer:
    """One ingest. Use as a context manager: leaving it without commit() aborts."""

    def __init__(self, store: "ContentStore"):
        self._store = store
        self.dir = os.path.join(store.ingest_dir, f"{os.getpid()}-{os.urandom(8).hex()}")
        os.makedirs(self.dir)
        self.path = os.path.join(self.dir, "data")
        self._f = open(self.path, "xb", buffering=0)
        import hashlib  # lazily: reading blobs (every `run`) needs no hashing

        self._h = hashlib.sha256()
        self.size = 0
        self.digest = ""

    def write(self, data) -> None:
        self._h.update(data)
        self._f.write(data)
        self.size += len(data)

    def hexdigest(self) -> str:
        """The sha256 of what was written so far."""
        return self._h.hexdigest()

    def copy_from(self, src: BinaryIO, limit: int | None = None) -> None:
        left = limit
        while left is None or left > 0:
            chunk = src.read(CHUNK if left is None else min(CHUNK, left))
            if not chunk:
                break
            self.write(chunk)
            if left is not None:
                left -= len(chunk)
        if left:
            raise InvalidArgument(f"blob truncated: {left} bytes missing")

    def commit(self, expected: str | None = None, expected_size: int | None = None, *, sync: bool = True) -> str:
        """Verify, fsync and rename into place; return the digest."""
        dig = "sha256:" + self._h.hexdigest()
        if expected_size is not None and expected_size != self.size:
            self.abort()
            raise InvalidArgument(f"blob {expected or dig}: size mismatch: expected {expected_size} bytes, got {self.size}")
        if expected is not None and expected != dig:
            self.abort()
            raise InvalidArgument(f"blob {expected}: digest mismatch: content hashes to {dig}")
        if sync:
            os.fsync(self._f.fileno())
        self._f.close()
        final = self._store.path(dig)
        if os.path.exists(final):
            _rmtree(self.dir)
        else:
            os.rename(self.path, final)
            if sync:
                fsync_dir(os.path.dirname(final))
            _rmtree(self.dir)
        self.digest = dig
        return dig

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        _rmtree(self.dir)

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        if not self.digest:
            self.abort()


class ContentStore:
    def __init__(self, root: str):
        self.root = root
        self.blobs_dir = os.path.join(root, "blobs", "sha256")
        self.ingest_dir = os.path.join(root, "ingest")
        os.makedirs(self.blobs_dir, exist_ok=True)
        os.makedirs(self.ingest_dir, exist_ok=True)
        self._lock_path = os.path.join(root, "gc.lock")

    # -- reading ---------------------------------------------------------
    def path(self, digest: str) -> str:
        if _digest.algorithm(digest) != "sha256":
            raise InvalidArgument(f"unsupported digest algorithm in {digest}")
        return os.path.join(self.blobs_dir, _digest.hex_of(digest))

    def exists(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in the content store") from None

    def read_bytes(self, digest: str, limit: int = 64 << 20) -> bytes:
        with self.open(digest) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"blob {digest} is larger than {limit} bytes")
        return data

    def list(self) -> Iterator[str]:
        for name in os.listdir(self.blobs_dir):
            if len(name) == 64:
                yield "sha256:" + name

    # -- writing ---------------------------------------------------------
    def writer(self) -> Writer:
        return Writer(self)

    def put_bytes(self, data: bytes, expected: str | None = None) -> str:
        import hashlib

        dig = "sha256:" + hashlib.sha256(data).hexdigest()
        if expected is not None and expected != dig:
            raise InvalidArgument(f"blob {expected}: digest mismatch: content hashes to {dig}")
        if self.exists(dig):
            return dig
        with self.writer() as w:
            w.write(data)
            return w.commit(expected, len(data))

    def ingest(self, src: BinaryIO, expected: str | None = None, expected_size: int | None = None) -> str:
        with self.writer() as w:
            w.copy_from(src, expected_size)
            return w.commit(expected, expected_size)

    def delete(self, digest: str) -> bool:
        try:
            os.unlink(self.path(digest))
            return True
        except FileNotFoundError:
            return False

    # -- GC support ------------------------------------------------------
    def lease(self) -> "_Flock":
        """`with store.lease():` a shared lock held by writers for their whole run; GC excludes them."""
        return FileLock(self._lock_path, fcntl.LOCK_SH)

    def exclusive(self) -> "_Flock":
        """`with store.exclusive():` the exclusive lock for GC: waits for in-flight writers to finish."""
        return FileLock(self._lock_path, fcntl.LOCK_EX)

    def clean_stale_ingests(self) -> int:
        """Remove ingest dirs whose writer process is gone; return how many."""
        removed = 0
        for name in os.listdir(self.ingest_dir):
            pid_s = name.split("-", 1)[0]
            alive = False
            if pid_s.isdigit():
                try:
                    os.kill(int(pid_s), 0)
                    alive = True
                except OSError as exc:
                    alive = exc.errno == errno.EPERM
            if not alive:
                _rmtree(os.path.join(self.ingest_dir, name))
                removed += 1
        return removed

    def sweep(self, keep: set[str]) -> tuple[list[str], int]:
        """Delete every blob not in `keep`; return (deleted digests, bytes freed). Call under exclusive()."""
        deleted, freed = [], 0
        for dig in list(self.list()):
            if dig in keep:
                continue
            try:
                freed += os.stat(self.path(dig)).st_size
            except FileNotFoundError:
                continue
            if self.delete(dig):
                deleted.append(dig)
        return deleted, freed
