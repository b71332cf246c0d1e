"""Every container the node's runtimes know, loaded lazily, one runtime at a time."""

from __future__ import annotations

from importlib import import_module

from pallet.debug.paths import HostPaths
from pallet.debug.records import ContainerRecord
from pallet.debug.sources import SOURCES, Loaded
from pallet.errors import InvalidArgument, NotFound

MOBY = "moby"   # the containerd namespace dockerd uses


class Catalog:
    """Lifecycle: made per command, reads each runtime's state at most once."""

    def __init__(self, paths: HostPaths, runtimes: tuple[str, ...] = tuple(SOURCES)) -> None:
        self.paths = paths
        self.runtimes = runtimes
        self._loaded: dict[str, Loaded] = {}

    def load(self, runtime: str) -> Loaded:
        if runtime not in self._loaded:
            module = import_module(f"pallet.debug.sources.{SOURCES[runtime]}")
            self._loaded[runtime] = module.load(self.paths)
        return self._loaded[runtime]

    def all(self) -> list[ContainerRecord]:
        records = [r for rt in self.runtimes for r in self.load(rt).records]
        # dockerd runs its containers through containerd, in the "moby" namespace: one container
        # seen twice. Docker's record (name, image, writable layer) is the one a user means.
        docker_ids = {r.id for r in records if r.runtime == "docker"}
        return [r for r in records if not (r.runtime == "containerd" and r.namespace == MOBY and r.id in docker_ids)]

    def lookup(self, runtimes: tuple[str, ...], container_id: str) -> tuple[ContainerRecord | None, list[str]]:
        """The record for an id from the cgroup path; else what could not be read, per runtime."""
        notes = []
        for rt in runtimes:
            loaded = self.load(rt)
            for r in loaded.records:
                if r.id == container_id:
                    # found, but say what was only partly readable (a fallback source)
                    return r, [f"{rt}: {p}" for p in loaded.problems]
            notes.extend(f"{rt}: {p}" for p in loaded.problems)
            if not loaded.present:
                notes.append(f"{rt}: no state found on this host")
            elif not loaded.problems:
                notes.append(f"{rt}: container {container_id[:12]} not in its state")
        return None, notes

    def find(self, ref: str) -> ContainerRecord:
        """A container by full id, unique id prefix, or name (any runtime)."""
        records = self.all()
        exact = [r for r in records if r.id == ref or (r.name and r.name == ref)]
        if len(exact) == 1:
            return exact[0]
        matches = exact or [r for r in records if len(ref) >= 3 and r.id.startswith(ref)]
        if not matches:
            raise NotFound(f"no container {ref!r} in the state of {', '.join(self.runtimes)}")
        if len(matches) > 1:
            names = ", ".join(f"{r.runtime}:{r.id[:12]}" for r in matches)
            raise InvalidArgument(f"container {ref!r} is ambiguous: {names}")
        return matches[0]
