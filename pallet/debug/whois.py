"""`pallet debug whois PID`: which container and pod a process belongs to.

The cgroup path says the runtime and the container id (cgpath); the
runtime's state adds name, image and pod; the UTS namespace gives the
hostname. Whatever can't be read is named in `notes` instead of failing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.debug import procfs
from pallet.debug.attribution import Attributor
from pallet.debug.cgpath import infrastructure
from pallet.debug.hostname import hostname as read_hostname
from pallet.errors import NotFound


@dataclass(frozen=True, kw_only=True)
class Whois:
    pid: int
    command: str
    host: bool                 # no container owns it
    runtime: str = ""
    container_id: str = ""
    name: str = ""
    image: str = ""
    kind: str = ""             # "sandbox" for a pod's infra container
    role: str = ""             # "conmon" when the process is the runtime's monitor
    pod_name: str = ""
    pod_namespace: str = ""
    pod_uid: str = ""
    qos: str = ""
    hostname: str = ""
    hostname_source: str = ""
    cgroup: str = ""
    cgroup_driver: str = ""
    state_file: str = ""
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


def _same_namespaces_as_host(pid: int, proc: str) -> bool | None:
    # The reference is PID 1 when readable, else this process (PID 1 may
    # be protected, as it is under some VM agents).
    for ref in ("1", "self"):
        want = [procfs.ns_inode(ref, t, proc) for t in ("mnt", "pid", "uts")]
        if None not in want:
            have = [procfs.ns_inode(pid, t, proc) for t in ("mnt", "pid", "uts")]
            return have == want
    return None


def whois(pid: int, attributor: Attributor, *, with_hostname: bool = True) -> Whois:
    proc = attributor.catalog.paths.proc
    if not procfs.exists(pid, proc):
        raise NotFound(f"no process {pid}")
    a = attributor.of_pid(pid)
    notes = list(a.notes)
    host = not a.is_container
    machinery = infrastructure(a.owner.path) if host else ""
    if machinery:
        notes.append(f"cgroup of {machinery}")
    if host and _same_namespaces_as_host(pid, proc) is False:
        notes.append("no known cgroup naming, but the process is in its own namespaces (a container?)")
    hostname, source = ("", "")
    if with_hostname:
        hostname, source = read_hostname(pid, proc)
        if not hostname:
            notes.append(f"hostname unreadable: {source}")
            source = ""
    r = a.record
    return Whois(
        pid=pid, command=procfs.command(pid, proc), host=host,
        runtime=a.runtime, container_id=a.container_id, name=a.name,
        image=r.image if r else "", kind=r.kind if r else "", role=a.owner.role,
        pod_name=a.pod_name, pod_namespace=a.pod_namespace, pod_uid=a.pod_uid, qos=a.owner.qos,
        hostname=hostname, hostname_source=source, cgroup=a.owner.path, cgroup_driver=a.owner.driver,
        state_file=r.source if r else "", notes=tuple(notes),
    )
