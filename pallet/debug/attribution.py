"""PID -> the container and pod that own it: cgroup naming first, then the runtime's state.

Shared by whois, swap, ns and the cgroup tree, so one Attributor caches
lookups per container id for a whole listing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.debug import procfs
from pallet.debug.catalog import Catalog
from pallet.debug.cgpath import CgroupOwner, identify, owner_of
from pallet.debug.records import ContainerRecord


@dataclass(frozen=True)
class Attribution:
    owner: CgroupOwner
    record: ContainerRecord | None
    notes: tuple[str, ...] = ()

    @property
    def is_container(self) -> bool:
        return self.owner.is_container or self.record is not None

    @property
    def runtime(self) -> str:
        return self.record.runtime if self.record else self.owner.runtime

    @property
    def container_id(self) -> str:
        return self.record.id if self.record else self.owner.container_id

    @property
    def name(self) -> str:
        return self.record.name if self.record else ""

    @property
    def pod_uid(self) -> str:
        return (self.record.pod_uid if self.record else "") or self.owner.pod_uid

    @property
    def pod_name(self) -> str:
        return self.record.pod_name if self.record else ""

    @property
    def pod_namespace(self) -> str:
        return self.record.pod_namespace if self.record else ""

    def label(self) -> str:
        """Short text for tables: runtime:name-or-id [pod ns/name]."""
        if not self.is_container:
            return "(pod " + self.pod_uid + ")" if self.pod_uid else "host"
        text = f"{self.runtime}:{self.name or self.container_id[:12]}"
        if self.owner.role == "conmon":
            text += " (conmon)"
        pod = self.pod_label()
        return f"{text} pod={pod}" if pod else text

    def pod_label(self) -> str:
        if self.pod_name:
            return f"{self.pod_namespace}/{self.pod_name}" if self.pod_namespace else self.pod_name
        return self.pod_uid


class Attributor:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._by_id: dict[tuple, tuple] = {}

    def of_owner(self, owner: CgroupOwner) -> Attribution:
        if not owner.is_container:
            return Attribution(owner, None)
        key = (owner.runtimes, owner.container_id)
        if key not in self._by_id:
            self._by_id[key] = self.catalog.lookup(owner.runtimes, owner.container_id)
        record, notes = self._by_id[key]
        return Attribution(owner, record, tuple(notes))

    def of_path(self, path: str) -> Attribution:
        return self.of_owner(identify(path))

    def of_pid(self, pid: int) -> Attribution:
        """Attribution of a PID; a process that vanished or can't be read counts as unknown host."""
        try:
            lines = procfs.cgroups(pid, self.catalog.paths.proc)
        except OSError as exc:
            return Attribution(CgroupOwner(path=""), None, (f"cannot read /proc/{pid}/cgroup: {exc.strerror}",))
        return self.of_owner(owner_of(lines))
