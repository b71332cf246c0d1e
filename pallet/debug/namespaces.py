"""`pallet debug ns`: every namespace on the host, like lsns, with its owning container.

A namespace is identified by the inode of /proc/PID/ns/TYPE (`ls -Li`).
As in lsns, its owner is the lowest PID in it; that PID's container (by
cgroup) is the attribution, so the host's namespaces say "host".
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.debug import procfs
from pallet.debug.attribution import Attributor
from pallet.linux.ns import NAMESPACES

# lsns's types, in its order; the /proc/PID/ns file names.
TYPES: tuple[str, ...] = tuple(proc_name for _, proc_name in NAMESPACES.values())
LSNS_ORDER = ("mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time")


@dataclass(frozen=True)
class Namespace:
    inode: int
    type: str
    nprocs: int
    pid: int           # the lowest PID in it
    command: str
    owner: str         # "host" or "runtime:name pod=ns/name"
    container_id: str = ""


def _host_inodes(types: tuple[str, ...], proc: str) -> dict[str, int | None]:
    """The host's namespaces: PID 1's when readable, else this process's."""
    for ref in ("1", "self"):
        inodes = {t: procfs.ns_inode(ref, t, proc) for t in types}
        if any(v is not None for v in inodes.values()):
            return inodes
    return {}


def namespaces(attributor: Attributor, *, types: tuple[str, ...] = LSNS_ORDER,
               pid: int | None = None) -> tuple[list[Namespace], int]:
    """(namespaces sorted by type then inode, number of processes that could not be read)."""
    proc = attributor.catalog.paths.proc
    members: dict[tuple[str, int], list[int]] = {}
    unreadable = 0
    for p in procfs.pids(proc):
        seen = False
        for t in types:
            ino = procfs.ns_inode(p, t, proc)
            if ino is not None:
                members.setdefault((t, ino), []).append(p)
                seen = True
        unreadable += not seen
    wanted = None
    if pid is not None:
        wanted = {(t, procfs.ns_inode(pid, t, proc)) for t in types}
    host = _host_inodes(types, proc)
    out = []
    for (t, ino), pids in members.items():
        if wanted is not None and (t, ino) not in wanted:
            continue
        low = min(pids)
        a = attributor.of_pid(low)
        # Not a container by its cgroup, yet not the host's namespace either:
        # something unshared it (a runtime pallet can't name, a sandbox tool).
        owner = a.label() if a.is_container or host.get(t) in (None, ino) else "(not host, owner unknown)"
        out.append(Namespace(ino, t, len(pids), low, procfs.command(low, proc), owner,
                             a.container_id if a.is_container else ""))
    order = {t: i for i, t in enumerate(LSNS_ORDER)}
    out.sort(key=lambda n: (order.get(n.type, 99), n.inode))
    return out, unreadable
