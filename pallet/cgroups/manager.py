"""What both versions' managers share, and the lifecycle of a container's cgroup.

Lifecycle of a container's cgroup::

    mgr = open_manager(spec cgroupsPath, id)   # nothing on disk yet
    [mgr.clone_dir()]                          # the cgroup2 dir first, to clone the init into
    mgr.create()                               # mkdir in every hierarchy
    mgr.apply(linux.resources)                 # plan, then write; warnings back
    mgr.add_pid(init pid)                      # before the init execs (or, on v1, the
                                               # init writes "0" to self_join_files())
    ... freeze()/thaw(), stats(), pids(), apply() again for `update` ...
    state.json <- mgr.to_json(); later: manager_from_json(saved)
    mgr.destroy(kill=True)                     # SIGKILL what is left, rmdir

`apply` takes the OCI JSON (a dict) or a LinuxResources, and returns the
warnings (resources the host ignores, as runc only warns about them);
what it can't honour raises an error naming the field. Device rules are
always set (deny all, the spec's rules, then runc's default devices)
unless `default_devices=False` (only the spec's) or `skip_devices=True`
(leave them as they are: `update` does not touch devices, as runc).
"""

from __future__ import annotations

import os
import time

from pallet.errors import PalletError

# Kept out of the import path: `state`/`list` import this package only to
# ask is_frozen(), and `create` counts every millisecond (no typing,
# signal, enum, re or dataclasses here). The protocol is in protocol.py.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.oci.resources import LinuxResources


def as_resources(resources: dict | LinuxResources | None) -> LinuxResources:
    from pallet.oci.resources import LinuxResources

    if isinstance(resources, LinuxResources):
        return resources
    return LinuxResources.from_json(resources or {})


def all_pids(dir: str) -> list[int]:
    """cgroup.procs of `dir` and every sub-cgroup (a container may nest)."""
    found: list[int] = []
    for top, _, files in os.walk(dir):
        if "cgroup.procs" in files:
            try:
                with open(os.path.join(top, "cgroup.procs")) as f:
                    found.extend(int(p) for p in f.read().split())
            except FileNotFoundError:
                pass  # removed while we walked
    return sorted(set(found))


def signal_pids(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass


def remove_with_retry(remove, dirs: list[str], deadline: float) -> None:
    """rmdir each dir, retrying EBUSY until the deadline: a killed task
    leaves its cgroup only once the kernel finishes its exit."""
    from pallet.cgroups.hierarchy import BusyError

    pending = list(dirs)
    while pending:
        d = pending[0]
        try:
            remove(d)
            pending.pop(0)
        except BusyError as exc:
            if time.monotonic() > deadline:
                raise PalletError(f"{exc} after the wait") from None
            time.sleep(0.01)


def wait_empty(list_pids, deadline: float, what: str) -> None:
    while list_pids():
        if time.monotonic() > deadline:
            raise PalletError(f"cgroup {what}: processes {list_pids()} still alive after SIGKILL")
        time.sleep(0.01)


SIGKILL = 9  # signal.SIGKILL; the signal module imports enum

# The LinuxResources field each controller module reads (v1 and v2 names):
# a controller whose field is unset has nothing to write and is not even
# imported, so a `create` without resources writes device rules only.
RESOURCE_FIELD = {"cpuset": "cpu", "memory": "memory", "cpu": "cpu", "pids": "pids", "blkio": "block_io",
                  "io": "block_io", "hugetlb": "hugepage_limits", "net_cls": "network", "net_prio": "network",
                  "rdma": "rdma"}


def requested(res: LinuxResources, controller: str) -> bool:
    field = RESOURCE_FIELD.get(controller)
    return field is not None and getattr(res, field) is not None


def kill_all(mgr, signum: int, kill_dir: str | None) -> None:
    """Signal every process of the cgroup: SIGKILL through `kill_dir`'s
    cgroup.kill (v2) when there is one, else freeze so nothing forks between
    reading the list and signalling it (runc's signalAllProcesses); a cgroup
    that was paused stays paused."""
    if signum == SIGKILL and kill_dir and os.path.exists(os.path.join(kill_dir, "cgroup.kill")):
        from pallet.cgroups import fs

        fs.write(kill_dir, "cgroup.kill", "1")
        return
    froze = False
    try:
        if not mgr.is_frozen():
            mgr.freeze()
            froze = True
    except Exception:  # no freezer: signal anyway
        pass
    try:
        signal_pids(mgr.pids(), signum)
    finally:
        if froze:
            mgr.thaw()


def destroy(mgr, dirs: list[str], kill: bool, timeout: float) -> None:
    """Remove the container's cgroup dirs; with `kill`, SIGKILL what is left first.

    An empty cgroup (the usual case: `run` and `delete` come after the init
    and, with it, its pid namespace died) goes with one rmdir per dir; only a
    busy one (tasks or sub-cgroups left) takes the kill, wait and walk."""
    from pallet.cgroups import hierarchy

    deadline = time.monotonic() + timeout
    busy = []
    for d in dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:
            busy.append(d)
    if not busy:
        return
    if kill:
        mgr.kill_all(SIGKILL)
        mgr.unfreeze_for_kill()
        wait_empty(mgr.pids, deadline, mgr.path)
    remove_with_retry(hierarchy.remove_tree, [d for d in busy if os.path.isdir(d)], deadline)
