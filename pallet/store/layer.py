"""Layers: apply a tar (plain, gzip, zstd) into an empty dir; write a dir back as a tar layer.

Apply (plan, then apply):

    src bytes --> blob writer (compressed digest)          [optional]
              --> decompress --> diff_id hash
                             --> TarGuard (validates each member first)
                             --> GNU tar -x into <dest>.partial-XXXX
    then whiteouts .wh.NAME -> 0/0 char device, .wh..wh..opq -> trusted.overlay.opaque=y
    (paths resolved by the kernel: openat2 RESOLVE_IN_ROOT), then rename to <dest>.

GNU tar does the file creation (2.5-4x faster than Python's tarfile); the
guard, which sees every header before tar does, refuses escapes, so tar only
ever receives a member we have checked. On any error the partial dir is
removed: nothing is applied.

Write: `write_tar(sources, out)` turns overlay-format dirs (whiteout devices,
opaque xattrs) back into an OCI tar layer; with several dirs (top first) it
merges them, which is what squash needs.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from typing import BinaryIO

from pallet.errors import InvalidArgument, PalletError
from pallet.store.targuard import OPAQUE, WHITEOUT_PREFIX, SplitRecorder, TarGuard, read_split

CHUNK = 1 << 20
OPAQUE_XATTR = "trusted.overlay.opaque"
TAR = "tar"
TAR_EXTRACT_FLAGS = ["--numeric-owner", "--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*",
                     "--xattrs-exclude=trusted.overlay.*", "--no-acls", "--no-selinux"]

MAGIC = {b"\x1f\x8b": "gzip", b"\x28\xb5\x2f\xfd": "zstd"}


def detect_compression(head: bytes) -> str:
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return ""


class _Gzip:
    """Multi-member gzip, with ISA-L when installed (2x zlib's speed). Truncation is an error."""

    def __init__(self):
        try:
            from isal import isal_zlib as z
        except ImportError:  # pragma: no cover
            import zlib as z
        self._z = z
        self._d = z.decompressobj(31)
        self._done = False  # the last member ended and nothing followed yet

    def decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            if self._done:
                if not data.startswith(b"\x1f\x8b"):
                    return b"".join(out)  # trailing garbage after the last member: ignored, like gzip -d
                self._d = self._z.decompressobj(31)
                self._done = False
            out.append(self._d.decompress(data))
            if self._d.eof:
                self._done = True
                data = self._d.unused_data
            else:
                data = b""
        return b"".join(out)

    def flush(self) -> bytes:
        if self._done:
            return b""
        out = self._d.flush()
        if not self._d.eof:
            raise EOFError("compressed data ended before the end-of-stream marker")
        return out


class _Zstd:
    """Multi-frame zstd (the zstandard package); truncation is an error."""

    def __init__(self):
        import zstandard

        self._dctx = zstandard.ZstdDecompressor()
        self._d = self._dctx.decompressobj()
        self._done = False

    def decompress(self, data: bytes) -> bytes:
        out = []
        try:
            while data:
                if self._done:
                    self._d = self._dctx.decompressobj()
                    self._done = False
                out.append(self._d.decompress(data))
                if self._d.eof:
                    self._done = True
                    data = self._d.unused_data
                else:
                    data = b""
        except Exception as exc:  # zstandard.ZstdError
            raise ValueError(str(exc)) from None
        return b"".join(out)

    def flush(self) -> bytes:
        if not self._done:
            raise EOFError("zstd data ended before the end of the frame")
        return b""


class _Plain:
    def decompress(self, data):
        return data

    def flush(self):
        return b""


DECOMPRESSORS = {"": _Plain, "gzip": _Gzip, "zstd": _Zstd}


def decompressor(compression: str):
    try:
        return DECOMPRESSORS[compression]()
    except KeyError:
        raise InvalidArgument(f"unsupported layer compression {compression!r}") from None


@dataclass(frozen=True)
class Applied:
    diff_id: str       # sha256 of the uncompressed tar
    size: int          # uncompressed tar bytes
    compression: str   # what the input was
    blob_digest: str   # sha256 of the input as given (== diff_id when uncompressed)
    blob_size: int
    members: int
    split_ok: bool = False   # a split record was written and can rebuild the exact tar
    split_problem: str = ""
    blob_written: bool = False  # the input went to the blob writer


class _Reader:
    """Chunks of `src`, hashed as read (the blob digest), optionally limited."""

    def __init__(self, src: BinaryIO, limit: int | None, hashing: bool = True):
        self.src, self.left = src, limit
        self.h = hashlib.sha256() if hashing else None
        self.size = 0

    def read(self) -> bytes:
        n = CHUNK if self.left is None else min(CHUNK, self.left)
        if n == 0:
            return b""
        data = self.src.read(n)
        if self.left is not None:
            self.left -= len(data)
            if not data and self.left:
                raise InvalidArgument(f"layer truncated: {self.left} bytes missing")
        if self.h is not None:
            self.h.update(data)
        self.size += len(data)
        return data


def _trusted_section(src, size):
    """(fd, offset, size) when `src` is an uncompressed tar in a regular file only root can change.

    Then tar reads the file itself (no copy through a pipe) after the guard has checked every
    header: the file must not change between the two reads, hence the owner/mode check."""
    sec = getattr(src, "pallet_section", None)
    if sec is None:
        try:
            fd = src.fileno()
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return None
            off = src.tell()
            sec = (fd, off, st.st_size - off if size is None else size)
        except (AttributeError, OSError, io.UnsupportedOperation):
            return None
    fd = sec[0]
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        return None
    if detect_compression(os.pread(fd, 4, sec[1])):
        return None
    return sec


def _apply_in_place(sec, tmp: str, recorder, errf, what: str):
    """Fast path: check all headers with pread (data skipped), then let tar read the file itself
    while we hash it. Returns (guard result, diff_id, size)."""
    fd, off, size = sec
    end = off + size
    guard = TarGuard(recorder)
    pos = off
    while pos < end:
        if guard._ended:
            guard.feed(os.pread(fd, end - pos, pos))  # trailing zeros, recorded
            pos = end
            break
        if guard._skip:
            data_n = guard._data_left
            if data_n:
                guard._skip -= data_n
                guard._data_left = 0
                pos += data_n
            pad = guard._skip
            if pad:
                chunk = os.pread(fd, pad, pos)
                if len(chunk) != pad:
                    break
                guard.feed(chunk)
                pos += pad
            continue
        want = guard._capture if guard._capture else BLOCK_READ
        chunk = os.pread(fd, min(want, end - pos), pos)
        if not chunk:
            break
        if not guard._capture:
            chunk = chunk[:512 - len(guard._hbuf)]
        guard.feed(chunk)
        pos += len(chunk)
    if pos > end:
        raise InvalidArgument(f"{what}: corrupt tar archive: unexpected end of data")
    result = guard.finish()
    if not guard._ended:
        return None  # no end-of-archive marker: tar could read past the section; use the pipe
    rfd = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)  # own file offset
    try:
        os.lseek(rfd, off, os.SEEK_SET)
        proc = subprocess.Popen([TAR, "-x", "-f", "-", "-C", tmp, *TAR_EXTRACT_FLAGS],
                                stdin=rfd, stdout=subprocess.DEVNULL, stderr=errf)
    finally:
        os.close(rfd)
    try:
        h = hashlib.sha256()
        pos = off
        while pos < end:
            chunk = os.pread(fd, min(CHUNK * 4, end - pos), pos)
            if not chunk:
                raise InvalidArgument(f"{what}: layer truncated")
            h.update(chunk)
            pos += len(chunk)
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if rc != 0:
        raise PalletError(f"{what}: tar exited with status {rc}: {_tail(errf)}")
    return result, "sha256:" + h.hexdigest(), size


BLOCK_READ = 512


def apply_tar(src: BinaryIO, dest: str, *, size: int | None = None, compression: str | None = None,
              blob_writer=None, what: str = "layer", expected_diff_id: str = "", split_path: str = "",
              blob_only_if_compressed: bool = False) -> Applied:
    """Apply the layer read from `src` into the new dir `dest` (must not exist). All or nothing.

    With `split_path`, the tar's non-data bytes are recorded there (see SplitRecorder), so the
    exact tar can be rebuilt from `dest` later and need not be kept as a blob."""
    if os.path.lexists(dest):
        raise PalletError(f"{what}: {dest} exists already")
    parent = os.path.dirname(dest)
    tmp = os.path.join(parent, f".partial-{os.getpid()}-{secrets.token_hex(6)}")
    os.mkdir(tmp, 0o755)
    errf = tempfile.TemporaryFile()
    proc = None
    split_f = None
    try:
        sec = _trusted_section(src, size) if compression in (None, "") and (
            blob_writer is None or blob_only_if_compressed) else None
        if sec is not None:
            split_f = open(split_path, "xb") if split_path else None
            recorder = SplitRecorder(split_f) if split_f else None
            fast = _apply_in_place(sec, tmp, recorder, errf, what)
            if fast is not None:
                result, diff_id, usize = fast
                if split_f is not None:
                    recorder.close()
                    os.fsync(split_f.fileno())
                    split_f.close()
                if expected_diff_id and diff_id != expected_diff_id:
                    raise InvalidArgument(f"{what}: content does not match the image config: diff_id is {diff_id}, config says {expected_diff_id}")
                _convert_whiteouts(tmp, result)
                os.rename(tmp, dest)
                tmp = ""
                return Applied(diff_id=diff_id, size=usize, compression="", blob_digest=diff_id, blob_size=usize,
                               members=result.members, split_ok=bool(split_path) and result.split_ok,
                               split_problem=result.split_problem, blob_written=False)
            # no end marker: start over on the streaming path
            if split_f is not None:
                split_f.close()
                os.unlink(split_path)
                split_f = None
            shutil.rmtree(tmp)
            os.mkdir(tmp, 0o755)
            if hasattr(src, "seek"):
                src.seek(0)
        proc = subprocess.Popen([TAR, "-x", "-f", "-", "-C", tmp, *TAR_EXTRACT_FLAGS],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errf, bufsize=0)
        try:  # a 1 MiB pipe: fewer context switches between us and tar
            import fcntl

            fcntl.fcntl(proc.stdin.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
        except OSError:
            pass
        # one sha256 pass where possible: the blob writer hashes the input; the diff id is
        # hashed separately only when the input is compressed
        reader = _Reader(src, size, hashing=blob_writer is None or blob_only_if_compressed)
        first = reader.read()
        comp = detect_compression(first) if compression is None else compression
        if blob_only_if_compressed and not comp:
            blob_writer = None  # the split record will rebuild it: don't store the tar twice
        dec = decompressor(comp)
        split_f = open(split_path, "xb") if split_path else None
        recorder = SplitRecorder(split_f) if split_f else None
        guard = TarGuard(recorder)
        diff = hashlib.sha256() if comp else None
        usize = 0
        out = proc.stdin
        chunk = first
        try:
            while chunk:
                if blob_writer is not None:
                    blob_writer.write(chunk)
                data = dec.decompress(chunk)
                if data:
                    if diff is not None:
                        diff.update(data)
                    usize += len(data)
                    pieces = guard.feed(data)
                    if pieces:
                        out.write(b"".join(pieces))
                chunk = reader.read()
            tail = dec.flush()
            if tail:
                diff.update(tail)  # only compressed input has a tail
                usize += len(tail)
                pieces = guard.feed(tail)
                if pieces:
                    out.write(b"".join(pieces))
            result = guard.finish()
            out.close()
            if split_f is not None:
                recorder.close()
                os.fsync(split_f.fileno())
                split_f.close()
        except BrokenPipeError:
            proc.wait()
            raise PalletError(f"{what}: tar failed: {_tail(errf)}") from None
        except Exception as exc:
            if isinstance(exc, (ValueError, EOFError, OSError)) and not isinstance(exc, PalletError):
                raise InvalidArgument(f"{what}: corrupt {comp or 'tar'} data: {exc}") from None
            raise
        rc = proc.wait()
        if rc != 0:
            raise PalletError(f"{what}: tar exited with status {rc}: {_tail(errf)}")
        blob_digest = "sha256:" + (reader.h.hexdigest() if reader.h is not None else blob_writer.hexdigest())
        diff_id = "sha256:" + diff.hexdigest() if diff is not None else blob_digest
        if expected_diff_id and diff_id != expected_diff_id:
            raise InvalidArgument(f"{what}: content does not match the image config: diff_id is {diff_id}, config says {expected_diff_id}")
        _convert_whiteouts(tmp, result)
        os.rename(tmp, dest)
        tmp = ""
        return Applied(diff_id=diff_id, size=usize, compression=comp,
                       blob_digest=blob_digest, blob_size=reader.size,
                       members=result.members, split_ok=bool(split_path) and result.split_ok,
                       split_problem=result.split_problem, blob_written=blob_writer is not None)
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        errf.close()
        if split_f is not None and not split_f.closed:
            split_f.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


class SplitReader(io.RawIOBase):
    """The exact layer tar rebuilt from its split record and its extracted dir; verified at the end.

    File data is opened by the kernel inside the layer dir (RESOLVE_IN_ROOT, no symlinks)."""

    def __init__(self, split_path: str, diff_dir: str, diff_id: str, size: int):
        from pallet.linux.openat2 import RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS, openat2

        self._openat2 = lambda root, p: openat2(root, p, os.O_RDONLY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)
        self._split = open(split_path, "rb")
        self._root = os.open(diff_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._records = read_split(self._split)
        self._h = hashlib.sha256()
        self._diff_id, self._size, self._done = diff_id, size, 0
        self._buf = b""
        self._fd = -1
        self._left = 0
        self._what = diff_dir

    def readable(self):
        return True

    def _next(self) -> bytes:
        if self._fd >= 0:
            data = os.read(self._fd, min(self._left, CHUNK))
            if not data:
                raise PalletError(f"layer {self._what}: a file is shorter than when the layer was unpacked: the layer dir was changed")
            self._left -= len(data)
            if not self._left:
                os.close(self._fd)
                self._fd = -1
            return data
        rec = next(self._records, None)
        if rec is None:
            return b""
        if rec[0] == "R":
            return rec[1]
        _, path, size = rec
        self._fd = self._openat2(self._root, path)
        self._left = size
        return self._next()

    def readinto(self, b) -> int:
        while not self._buf:
            self._buf = self._next()
            if not self._buf:
                self._finish()
                return 0
            self._h.update(self._buf)
            self._done += len(self._buf)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def _finish(self):
        got = "sha256:" + self._h.hexdigest()
        if got != self._diff_id or self._done != self._size:
            raise PalletError(f"layer {self._diff_id}: the tar rebuilt from {self._what} hashes to {got}: the layer dir was changed")

    def close(self):
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._root >= 0:
            os.close(self._root)
            self._root = -1
        self._split.close()
        super().close()


def _tail(f) -> str:
    f.seek(0)
    lines = [l for l in f.read().decode("utf-8", "replace").splitlines() if l.strip()]
    return lines[-1].removeprefix("tar: ") if lines else "no message"


def _convert_whiteouts(root: str, result) -> None:
    """OCI whiteout files -> overlay whiteouts, each dir opened by the kernel inside `root`."""
    if not result.whiteouts and not result.opaque_dirs:
        return
    from pallet.linux.openat2 import open_in_root

    rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for parent, name in result.whiteouts:
            full = f"{parent}/{name}" if parent else name
            dfd = open_in_root(rootfd, parent or ".", os.O_RDONLY | os.O_DIRECTORY)
            try:
                st = os.stat(dfd)
                os.unlink(WHITEOUT_PREFIX + name, dir_fd=dfd)
                if full not in result.paths:  # an entry of the same layer wins over its whiteout
                    os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=dfd)
                os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dfd)
        for parent in result.opaque_dirs:
            dfd = open_in_root(rootfd, parent or ".", os.O_RDONLY | os.O_DIRECTORY)
            try:
                st = os.stat(dfd)
                os.unlink(OPAQUE, dir_fd=dfd)
                os.setxattr(dfd, OPAQUE_XATTR, b"y")
                os.utime(dfd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(dfd)
    finally:
        os.close(rootfd)


# --------------------------------------------------------------------------- write

def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


@dataclass
class _Plan:
    entries: list[tuple[str, str]]  # (source dir, relative path) in output order
    whiteouts: list[str]            # relative paths to write as .wh.NAME
    opaques: list[str]              # relative dirs to mark opaque


def plan_merge(sources: list[str], *, keep_whiteouts: bool = True) -> _Plan:
    """Merge overlay-format dirs (top first) into one layer's entries.

    A path comes from the topmost dir that has it; a whiteout, a non-dir or
    an opaque dir in an upper source hides what lies below it in lower
    sources. With `keep_whiteouts` (the merged layer sits on other layers)
    whiteouts and opaque markers stay in the result; without (a squash down
    to an empty base) they are dropped.
    """
    seen: dict[str, tuple[str, int]] = {}  # rel -> (kind w/f/d/o, source depth)
    entries: list[tuple[str, str]] = []
    whiteouts: list[str] = []
    opaques: list[str] = []
    for depth, src in enumerate(sources):
        for dirpath, dirnames, filenames in os.walk(src):
            rel_dir = os.path.relpath(dirpath, src)
            rel_dir = "" if rel_dir == "." else rel_dir
            if rel_dir and _hidden(rel_dir, seen, depth):
                dirnames[:] = []
                continue
            keep_dirs = []
            for name in sorted(dirnames) + sorted(filenames):
                rel = f"{rel_dir}/{name}" if rel_dir else name
                if rel in seen:
                    if seen[rel][0] in "do":
                        keep_dirs.append(name)
                    continue
                full = os.path.join(dirpath, name)
                st = os.lstat(full)
                if is_whiteout(st):
                    seen[rel] = ("w", depth)
                    if keep_whiteouts:
                        whiteouts.append(rel)
                    continue
                if stat.S_ISDIR(st.st_mode):
                    opq = is_opaque(full)
                    seen[rel] = ("o" if opq else "d", depth)
                    if opq and keep_whiteouts:
                        opaques.append(rel)
                    keep_dirs.append(name)
                else:
                    seen[rel] = ("f", depth)
                entries.append((src, rel))
            dirnames[:] = keep_dirs
    return _Plan(entries=entries, whiteouts=whiteouts, opaques=opaques)


def _hidden(rel_dir: str, seen: dict, depth: int) -> bool:
    """Is the content of `rel_dir` in source `depth` hidden by an upper source?"""
    parts = rel_dir.split("/")
    for i in range(1, len(parts) + 1):
        hit = seen.get("/".join(parts[:i]))
        if hit and hit[1] < depth and hit[0] in "wfo":
            return True
    return False


def write_tar(sources: list[str], out: BinaryIO, *, keep_whiteouts: bool = True) -> tuple[str, int]:
    """Write overlay-format dirs (top first) as one OCI tar layer to `out`; return (diff_id, size)."""
    plan = plan_merge(sources, keep_whiteouts=keep_whiteouts)
    h = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile() as listf:
        current = None
        for src, rel in plan.entries:
            if src != current:
                listf.write(b"--directory=" + os.fsencode(src) + b"\0")
                current = src
            name = os.fsencode(rel)
            listf.write((b"./" + name if name.startswith(b"-") else name) + b"\0")
        listf.flush()
        errf = tempfile.TemporaryFile()
        args = [TAR, "-c", "-f", "-", "-b", "1", "--numeric-owner", "--xattrs", "--xattrs-include=*",
                "--xattrs-exclude=trusted.overlay.*", "--no-acls", "--no-selinux", "--no-recursion", "--null", "--no-verbatim-files-from",
                "--format=posix", "--pax-option=delete=atime,delete=ctime", "-C", sources[0] if sources else "/", "-T", listf.name]
        if not plan.entries:
            args = None
        held = b""
        if args:
            proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=errf)
            while True:
                chunk = proc.stdout.read(CHUNK)
                if not chunk:
                    break
                data = held + chunk
                data, held = data[:-1024], data[-1024:]
                if data:
                    h.update(data)
                    out.write(data)
                    size += len(data)
            rc = proc.wait()
            if rc != 0:
                raise PalletError(f"writing a layer tar failed: {_tail(errf)}")
            if held != bytes(1024):
                raise PalletError("writing a layer tar failed: unexpected end of tar output")
        extra = []
        for rel in plan.opaques:
            extra.append(_empty_file(f"{rel}/{OPAQUE}"))
        for rel in plan.whiteouts:
            d, _, name = rel.rpartition("/")
            extra.append(_empty_file(f"{d}/{WHITEOUT_PREFIX}{name}" if d else WHITEOUT_PREFIX + name))
        extra.append(bytes(1024))
        data = b"".join(extra)
        h.update(data)
        out.write(data)
        size += len(data)
    return "sha256:" + h.hexdigest(), size


def _empty_file(name: str) -> bytes:
    import tarfile

    ti = tarfile.TarInfo(name)
    ti.size = 0
    ti.mode = 0o644
    ti.mtime = 0
    return ti.tobuf(format=tarfile.PAX_FORMAT)
