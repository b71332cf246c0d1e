"""`events ID`: the container's stats and OOM events as JSON lines (runc's format).

    --stats        one {"type":"stats","id":ID,"data":{...}} and exit
    (default)      a stats event every --interval (Go duration, default 5s),
                   and {"type":"oom","id":ID} each time the container's cgroup
                   hits OOM (killed or, with disableOOMKiller, waiting);
                   ends when the container stops.

OOMs come from the cgroup's OOM watcher (v1: an eventfd on
memory.oom_control, as runc; v2: memory.events), checked between stats
ticks; the loop wakes at least every 0.5 s to notice the container stop.
"""

from __future__ import annotations

import json
import re
import sys
import time
from typing import Callable, Iterator

from pallet.errors import InvalidArgument
from pallet.runtime import state as st

STATUS_POLL = 0.5
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Go's time.ParseDuration subset: 5s, 500ms, 1m30s."""
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise InvalidArgument(f"--interval: {text!r} is not a duration like 5s or 500ms")
    seconds = sum(float(n) * _SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise InvalidArgument(f"--interval: {text!r} must be positive")
    return seconds


def stats_event(container_id: str, mgr) -> dict:
    return {"type": "stats", "id": container_id, "data": mgr.stats().to_json()}


def stream(root: str, container_id: str, interval: float,
           clock: Callable[[], float] = time.monotonic) -> Iterator[dict]:
    """Yield events until the container stops."""
    from pallet.runtime.pause import manager

    cs = st.load(root, container_id)
    mgr = manager(cs, "read events of")
    watcher = mgr.oom_watcher()
    try:
        next_stats = clock()
        while st.status(root, cs) != st.STOPPED:
            if clock() >= next_stats:
                yield stats_event(container_id, mgr)
                next_stats = clock() + interval
            for _ in range(watcher.wait(min(STATUS_POLL, max(0.0, next_stats - clock())))):
                yield {"type": "oom", "id": container_id}
        for _ in range(watcher.wait(0)):   # an OOM that ended the container
            yield {"type": "oom", "id": container_id}
    finally:
        watcher.close()


def main(root: str, opts: dict, pos: list[str], log) -> int:
    container_id = pos[0]
    if opts.get("stats"):
        cs = st.load(root, container_id)
        st.require(cs, st.status(root, cs), (st.CREATED, st.RUNNING, st.PAUSED), "read stats of")
        from pallet.runtime.pause import manager

        sys.stdout.write(json.dumps(stats_event(container_id, manager(cs, "read stats of")), separators=(",", ":")) + "\n")
        return 0
    interval = parse_duration(opts.get("interval") or "5s")
    for event in stream(root, container_id, interval):
        sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    return 0
