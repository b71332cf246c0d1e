"""`pallet debug whois PID`: which container and pod a process belongs to.

The cgroup path says the runtime and the container id (cgpath); the
runtime's state adds name, image and pod; the UTS namespace gives the
hostname. Whatever can't be read is named in `notes` instead of failing.
A containerd shim sits in its daemon's cgroup, not the container's: its
command line (`-namespace NS -id ID`) says whose monitor it is. The same
shim, found among a process's ancestors, names the container when the
cgroup path follows no known naming (`docker run --cgroup-parent /x`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from pallet.debug import procfs
from pallet.debug.attribution import Attributor
from pallet.debug.cgpath import infrastructure
from pallet.debug.daemons import flag
from pallet.debug.hostname import hostname as read_hostname
from pallet.errors import NotFound
from pallet.linux.proc import parse_stat


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
    role: str = ""             # "conmon" or "shim" when the process is the runtime's monitor
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


def shim_of(pid: int, proc: str) -> tuple[str, str] | None:
    """(namespace, task id) when the process is a containerd shim: containerd-shim-runc-v2 -namespace NS -id ID."""
    try:
        with open(os.path.join(proc, str(pid), "cmdline"), "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().rstrip(b"\0").split(b"\0")]
    except OSError:
        return None
    if not os.path.basename(argv[0]).startswith("containerd-shim"):
        return None
    task = flag(argv, "-id")
    return (flag(argv, "-namespace") or "", task) if task else None


def shim_above(pid: int, proc: str, limit: int = 64) -> tuple[int, tuple[str, str]] | None:
    """The nearest containerd shim among the process's ancestors: (its PID, (namespace, task id))."""
    for _ in range(limit):
        try:
            with open(os.path.join(proc, str(pid), "stat")) as f:
                pid = parse_stat(f.read()).ppid
        except (OSError, ValueError, IndexError):
            return None
        if pid <= 1:
            return None
        shim = shim_of(pid, proc)
        if shim:
            return pid, shim
    return None


def whois(pid: int, attributor: Attributor, *, with_hostname: bool = True) -> Whois:
    proc = attributor.catalog.paths.proc
    if not procfs.exists(pid, proc):
        raise NotFound(f"no process {pid}")
    a = attributor.of_pid(pid)
    notes = list(a.notes)
    host = not a.is_container
    r = a.record
    runtime, container_id, name, role = a.runtime, a.container_id, a.name, a.owner.role
    shim = shim_of(pid, proc) if host else None
    above = shim_above(pid, proc) if host and not shim else None
    if shim or above:
        # dockerd's tasks live in containerd's moby namespace: Docker's state names them
        ns, container_id = shim or above[1]
        r, lookup_notes = attributor.catalog.lookup(("docker", "containerd") if ns == "moby" else ("containerd",),
                                                    container_id)
        host, role = False, "shim" if shim else "container"
        runtime, name = (r.runtime, r.name) if r else ("containerd", "")
        found = "" if r else ": " + "; ".join(lookup_notes)
        if shim:
            notes.append(f"containerd shim of task {ns}/{container_id}{found}")
        else:
            # a CRI shim may serve a whole pod: then the task is the pod's sandbox
            notes.append(f"under the containerd shim of task {ns}/{container_id} (PID {above[0]}); "
                         f"its cgroup names no runtime{found}")
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
    pod = r if (shim or above) and r else a     # both have pod_name, pod_namespace, pod_uid
    return Whois(
        pid=pid, command=procfs.command(pid, proc), host=host,
        runtime=runtime, container_id=container_id, name=name,
        image=r.image if r else "", kind=r.kind if r else "", role=role,
        pod_name=pod.pod_name, pod_namespace=pod.pod_namespace, pod_uid=pod.pod_uid, qos=a.owner.qos,
        hostname=hostname, hostname_source=source, cgroup=a.owner.path, cgroup_driver=a.owner.driver,
        state_file=r.source if r else "", notes=tuple(notes),
    )
