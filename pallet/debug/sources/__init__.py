"""Readers of each runtime's on-disk state, one module per runtime.

Each module has `RUNTIME` and `load(paths) -> Loaded`: every container it
can see, plus one line per thing it could not read. Readers never raise
for a missing or unreadable file: debug must work on a half-broken node.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.debug.records import ContainerRecord


@dataclass(frozen=True)
class Loaded:
    runtime: str
    records: tuple[ContainerRecord, ...] = ()
    problems: tuple[str, ...] = ()     # "cannot read X: reason"
    present: bool = False              # the runtime's state dir exists at all


# runtime -> module under pallet.debug.sources (imported only when needed)
SOURCES: dict[str, str] = {
    "pallet": "pallet_state",
    "docker": "docker",
    "containerd": "containerd",
    "cri-o": "crio",
    "podman": "podman",
}
