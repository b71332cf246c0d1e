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


def read(path: str, *, tail: int = -1, since: str = "", until: str = "") -> list[Entry]:
    entries: list[Entry] = []
    for p in _files(path):
        with open(p, "rb") as f:
            for line in f:
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


def follow(path: str, still_running, *, start_offset: int | None = None) -> Iterator[Entry]:
    """New entries of the live log, across rotations, until `still_running()` is false and the file is drained."""
    fd = None
    ino = None
    offset = 0
    buf = b""
    idle_after_stop = 0
    while True:
        if fd is None:
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                if not still_running():
                    return
                time.sleep(0.05)
                continue
            ino = os.fstat(fd).st_ino
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
        try:
            if os.stat(path).st_ino != ino:  # rotated: drain done, reopen the new file from its start
                os.close(fd)
                fd = None
                start_offset = 0
                continue
        except FileNotFoundError:
            pass
        if not still_running():
            idle_after_stop += 1
            if idle_after_stop > 2:
                os.close(fd)
                return
        time.sleep(0.05)
