"""A container's state on disk (`<root>/<id>/state.json`) and its status.

The status is never stored: it is read from the kernel each time.

    (none) --create--> created --start--> running --(exit)--> stopped --delete--> (none)
                          |                  ^ |                 ^
                          |                  | +----kill---------+
                          +--kill/delete-----------------------> stopped

A live init that still has the exec fifo is `created`; without it
`running`; a frozen cgroup makes it `paused`; no live init (or a pid now
used by another process: the start time differs) is `stopped`.
"""

from __future__ import annotations

import os
import time

from pallet.errors import InvalidArgument, NotFound, WrongState
from pallet.linux.rmtree import remove_tree  # noqa: F401 (create and delete call st.remove_tree)
from pallet.oci.runtime_spec import dumps, loads
from pallet.values import frozen

OCI_VERSION = "1.0.2"
DEFAULT_ROOT = "/run/pallet-runtime"
STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"

CREATED, RUNNING, STOPPED, PAUSED, CREATING = "created", "running", "stopped", "paused", "creating"


def validate_id(container_id: str) -> None:
    if not container_id:
        raise InvalidArgument("container id cannot be empty")
    if container_id in (".", "..") or not all(c.isascii() and (c.isalnum() or c in "_+-.") for c in container_id):
        raise InvalidArgument(f"invalid container id {container_id!r}: use letters, digits, and _ + - .")


@frozen
class ContainerState:
    """What `create` records; everything else is derived from the kernel."""

    id: str
    pid: int
    pid_start: int  # /proc/<pid>/stat starttime: tells our init from a recycled pid
    bundle: str
    rootfs: str
    created: str  # RFC 3339, UTC
    owner: str
    annotations: dict
    config: dict  # the config.json it was created from (exec, hooks, delete read it)
    cgroup: dict | None = None  # pallet.cgroups manager's to_json()

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in self.__fields__}

    @classmethod
    def from_json(cls, d: dict) -> ContainerState:
        return cls(**{k: d.get(k) for k in cls.__fields__})


def container_dir(root: str, container_id: str) -> str:
    return os.path.join(root, container_id)


def now_rfc3339() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000)) + f".{ns % 1_000_000_000:09d}Z"


def write_atomic(path: str, data: bytes, mode: int = 0o600, *, durable: bool = True) -> None:
    """Write to a temp file, fsync, rename, fsync the directory (convention 9).

    `durable=False` skips the two fsyncs: the rename alone keeps readers from
    ever seeing a half-written file, which is all that state about live
    processes needs (they do not outlive a reboot)."""
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    if not durable:
        return
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def encode(st: ContainerState) -> bytes:
    return dumps(st.to_json()).encode()


def save(root: str, st: ContainerState, data: bytes | None = None) -> None:
    """`data`: encode(st), made beforehand (create makes it while the init sets itself up)."""
    # Not durable: a crash of the host takes the container with it, and the ms of two fsyncs
    # on a disk-backed --root would be on every create (runc does not fsync its state either).
    write_atomic(os.path.join(container_dir(root, st.id), STATE_FILE), encode(st) if data is None else data,
                 durable=False)


def load(root: str, container_id: str) -> ContainerState:
    validate_id(container_id)
    path = os.path.join(container_dir(root, container_id), STATE_FILE)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise NotFound(f"container {container_id} does not exist") from None
    try:
        return ContainerState.from_json(loads(data.decode()))
    except (ValueError, TypeError) as exc:
        raise InvalidArgument(f"container {container_id}: corrupt {path}: {exc}") from None


def list_ids(root: str) -> list[str]:
    try:
        names = sorted(os.listdir(root))
    except FileNotFoundError:
        return []
    return [n for n in names if os.path.exists(os.path.join(root, n, STATE_FILE))]


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, starttime) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(b")") + 2 :].split()
    return rest[0].decode(), int(rest[19])


def init_alive(st: ContainerState) -> bool:
    if st.pid <= 0:
        return False
    info = proc_stat(st.pid)
    return info is not None and info[0] not in ("Z", "X") and info[1] == st.pid_start


def _frozen_cgroup(st: ContainerState) -> bool:
    if not st.cgroup:
        return False
    try:
        from pallet.cgroups import manager_from_json

        return bool(manager_from_json(st.cgroup).is_frozen())
    except Exception:  # a status read must not fail because the cgroup is gone
        return False


def status(root: str, st: ContainerState) -> str:
    if not init_alive(st):
        return STOPPED
    if os.path.exists(os.path.join(container_dir(root, st.id), EXEC_FIFO)):
        return CREATED
    if _frozen_cgroup(st):
        return PAUSED
    return RUNNING


def oci_state(st: ContainerState, status_: str) -> dict:
    """The state object of the OCI runtime spec (what `state` prints and hooks read)."""
    out = {
        "ociVersion": OCI_VERSION,
        "id": st.id,
        "status": status_,
        "pid": st.pid if status_ != STOPPED else 0,
        "bundle": st.bundle,
    }
    if st.annotations:
        out["annotations"] = st.annotations
    return out


def require(st: ContainerState, current: str, allowed: tuple[str, ...], verb: str) -> None:
    """Raise the wrong-state error ARCHITECTURE.md asks for: "container abc is stopped: cannot exec"."""
    if current not in allowed:
        raise WrongState(f"container {st.id} is {current}: cannot {verb}")
