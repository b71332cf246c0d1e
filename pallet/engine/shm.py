"""A container's /dev/shm when its IPC is shared: a tmpfs on the host, bound into each container that uses it.

POSIX shared memory lives in files under /dev/shm, not in the IPC namespace: a container joining another's IPC
(`--ipc container:ID`) sees the other's SysV objects, but with a /dev/shm of its own none of its shm files. So,
as Docker does, a `shareable` container's /dev/shm is a tmpfs mounted on the host at
<root>/containers/<id>/mounts/shm (mode 1777, size from --shm-size) when it starts and bound into it; a joiner
binds that same mount. A `private` container (the default, as Docker >= 20.10) gets a tmpfs the runtime mounts in
its own mount namespace, which no other container can bind (mount(2) won't bind across mount namespaces).

    mount(env, cfg)         at start, before the bundle is written (kept when mounted already)
    unmount(env, cid)       by every teardown (containers.teardown_runtime, remove, system check --repair)
    donor(env, ref)         the container a joiner joins and its /dev/shm's host path; refused as Docker
"""

from __future__ import annotations

import os

from pallet.errors import InvalidArgument, PalletError, WrongState

_MAX_CHAIN = 8  # container:A of container:B of ...: each link was running when it joined, so no cycle; bounded anyway


def host_path(env, cid: str) -> str:
    return os.path.join(env.container_dir(cid), "mounts", "shm")


def mount(env, cfg) -> str:
    """Mount the shareable container's /dev/shm on the host; return its path."""
    path = host_path(env, cfg.id)
    if os.path.ismount(path):
        return path
    from pallet.linux.mount import MS_NODEV, MS_NOEXEC, MS_NOSUID, mount as mount2

    os.makedirs(path, 0o700, exist_ok=True)
    try:
        mount2("shm", path, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"mode=1777,size={cfg.shm_size}")
    except OSError as exc:
        raise PalletError(f"container {cfg.name}: cannot mount its shareable /dev/shm at {path}: "
                          f"{exc.strerror or exc}") from None
    return path


def unmount(env, cid: str) -> None:
    """Idempotent; MNT_DETACH: a joiner still running keeps its own bind of it until it exits."""
    from pallet.linux.mount import detach_all

    detach_all(host_path(env, cid))


def donor(env, ref: str, _depth: int = 0):
    """(state, host path of its /dev/shm) of the container `--ipc container:REF` joins. Refused, with Docker's
    words, when that container is not running, or when its IPC is not shareable (private or none)."""
    from pallet.engine import containers

    st = containers.get(env, ref)
    if st.status not in containers.ACTIVE or not st.row.pid:
        raise WrongState(f"cannot join IPC of a non running container: {st.name} is {st.status}")
    mode = st.config.ipc_mode
    path = ""
    if mode == "host":
        path = "/dev/shm"
    elif mode == "shareable":
        path = host_path(env, st.id)
        if not os.path.ismount(path):  # started by a pallet that kept its /dev/shm inside the container
            path = ""
    elif mode.startswith("container:") and _depth < _MAX_CHAIN:
        path = donor(env, mode[10:], _depth + 1)[1]  # it uses its donor's, which must still be there
    if not path:
        raise InvalidArgument(f"container {st.name}: non-shareable IPC (hint: use --ipc shareable for the "
                              "donor container)")
    return st, path
