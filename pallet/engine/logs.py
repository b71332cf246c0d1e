"""Read a container's json-file log (with its rotated files), Docker's `logs` semantics."""

from __future__ import annotations

import json
import os
import time
from typing import Iterator

from pallet.values import frozen


@frozen
class Entry:
    stream: str
    time: str
    text: str


def _files(path: str) -> list[str]:
    rotated = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        rotated.append(f"{path}.{i}")
        i += 1
    return list(reversed(rotated)) + ([path] if os.path.exists(path) else [])


def _parse(line: bytes) -> Entry | None:
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return Entry(rec.get("stream", "stdout"), rec.get("time", ""), rec.get("log", ""))


def parse_time(value: str, flag: str) -> str:
    """--since/--until: RFC 3339, a unix timestamp, or a duration like 10m / 1h30m, as an RFC 3339 string."""
    import re

    from pallet.errors import InvalidArgument

    if re.fullmatch(r"\d+(\.\d+)?", value):
        t = float(value)
    elif re.fullmatch(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+", value):
        mult = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        t = time.time() - sum(float(n) * mult[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)(ns|us|ms|s|m|h)", value))
    elif re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", value):
        return value
    else:
        raise InvalidArgument(f"invalid {flag} {value!r}: expected a timestamp, RFC 3339 time or duration (10m)")
    s, frac = divmod(int(t * 1e9), 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def _ts_key(ts: str) -> str:
    # RFC3339Nano timestamps with fixed 9 fractional digits compare as strings; pad shorter ones.
    if "." in ts:
        head, frac = ts.rstrip("Z").split(".", 1)
        return f"{head}.{frac:0<9}Z"
    return ts.rstrip("Z") + ".000000000Z"


def open_live(path: str) -> tuple[int, int] | None:
    """(fd, size) of the live log file now, or None: `read(live=)` stops there and `follow(live=)` starts
    there, so a line written or a rotation made in between is printed once, not twice or never."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    return fd, os.fstat(fd).st_size


def _rotated(path: str) -> list[str]:
    """path.1, path.2, ...: the rotated files, newest first."""
    out = []
    while os.path.exists(f"{path}.{len(out) + 1}"):
        out.append(f"{path}.{len(out) + 1}")
    return out


def _slurp(p: str) -> bytes:
    try:
        with open(p, "rb") as f:
            return f.read()
    except FileNotFoundError:  # rotated away while we listed: its lines are gone, as with max-file
        return b""


def read(path: str, *, tail: int = -1, since: str = "", until: str = "",
         live: tuple[int, int] | None = None) -> list[Entry]:
    """Entries of the rotated files and the live one, oldest first; with `live` (open_live's mark), the live
    file is read from that fd up to the mark, and only rotated files older than it count."""
    if live is None:
        chunks = [_slurp(p) for p in _files(path)]
    else:
        fd, size = live
        ino = os.fstat(fd).st_ino
        rotated = _rotated(path)
        inos = [_ino(p) for p in rotated]
        older = rotated[inos.index(ino) + 1:] if ino in inos else rotated  # rotated after the mark: newer
        chunks = [_slurp(p) for p in reversed(older)] + [os.pread(fd, size, 0)]
    entries: list[Entry] = []
    for chunk in chunks:
        for line in chunk.splitlines():
            e = _parse(line)
            if e is None:
                continue
            k = _ts_key(e.time)
            if since and k < _ts_key(since):
                continue
            if until and k > _ts_key(until):
                continue
            entries.append(e)
    if tail >= 0:
        entries = entries[-tail:] if tail else []
    return entries


def _ino(p: str) -> int:
    try:
        return os.stat(p).st_ino
    except FileNotFoundError:
        return -1


def _snapshot(path: str) -> list[int] | None:
    """Fds of path.N .. path.1 and path (oldest first) opened as one consistent set, or None when a rotation
    ran meanwhile: the monitor renames path.(N-1) -> path.N down to path -> path.1, then makes a new path."""
    d, base = os.path.split(path)
    nums = sorted(int(n[len(base) + 1:]) for n in os.listdir(d or ".")
                  if n.startswith(base + ".") and n[len(base) + 1:].isdigit())
    if nums != list(range(1, len(nums) + 1)):
        return None
    names = [f"{path}.{n}" for n in reversed(nums)] + [path]
    fds: list[int] = []
    try:
        for name in names:
            fds.append(os.open(name, os.O_RDONLY))
        if all(os.stat(name).st_ino == os.fstat(fd).st_ino for name, fd in zip(names, fds)):
            return fds
    except FileNotFoundError:
        pass
    for fd in fds:
        os.close(fd)
    return None


def _written_after(path: str, ino: int) -> list[int]:
    """Fds of the files written after the one with inode `ino`, oldest first, the live one last (a burst can
    rotate several times between two looks); [] when no consistent view came."""
    for _ in range(200):
        fds = _snapshot(path)
        if fds is not None:
            inos = [os.fstat(fd).st_ino for fd in fds]
            cut = inos.index(ino) + 1 if ino in inos else 0  # ours rotated away (max-file): all are newer
            for fd in fds[:cut]:
                os.close(fd)
            return fds[cut:]
        time.sleep(0.001)
    return []


def follow(path: str, still_running, *, start_offset: int | None = None,
           live: tuple[int, int] | None = None) -> Iterator[Entry]:
    """New entries of the live log, across rotations, until `still_running()` is false and the file is drained;
    from `live` (open_live's mark, its fd now owned here) when given."""
    fd = None
    ino = None
    offset = 0
    if live is not None:
        fd, offset = live
        ino = os.fstat(fd).st_ino
        start_offset = 0  # a file opened after a rotation is new: read from its start
    buf = b""
    idle_after_stop = 0
    pending: list[int] = []  # files not read yet, oldest first: rotated ones read to their end, then the live one
    is_live = True
    try:
        while True:
            if fd is None:
                if pending:
                    fd, offset = pending.pop(0), 0
                    is_live = not pending  # the last one is the file the monitor writes now
                    if is_live:
                        ino = os.fstat(fd).st_ino
                else:
                    try:
                        fd = os.open(path, os.O_RDONLY)
                    except FileNotFoundError:
                        if not still_running():
                            return
                        time.sleep(0.05)
                        continue
                    ino, is_live = os.fstat(fd).st_ino, True
                    offset = os.fstat(fd).st_size if start_offset is None else start_offset
                    start_offset = 0
            data = os.pread(fd, 65536, offset)
            if data:
                offset += len(data)
                buf += data
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    e = _parse(line)
                    if e is not None:
                        yield e
                continue
            if not is_live:  # a rotated file, read whole: on to the next
                os.close(fd)
                fd = None
                continue
            try:
                if os.stat(path).st_ino != ino:  # rotated: this one is drained; then the newer ones, oldest first
                    pending = _written_after(path, ino)
                    os.close(fd)
                    fd = None
                    continue
            except FileNotFoundError:
                pass
            if not still_running():
                idle_after_stop += 1
                if idle_after_stop > 2:
                    return
            time.sleep(0.05)
    finally:
        for f in pending + ([fd] if fd is not None else []):
            os.close(f)
