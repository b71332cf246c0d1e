"""A container's filesystem from the host: mount/unmount, export, commit (cp and diff: pallet.engine.filesystem)."""

from __future__ import annotations

from pallet.engine import containers, rootfs
from pallet.engine.containers import ContainerState, locked
from pallet.errors import WrongState


def mount(env, ref: str) -> str:
    """Mount the container's rootfs for the user, as `podman mount`: each mount counts, and the mount stays
    across the container's starts and stops until as many `umount`s (or `rm`)."""
    cid = containers.resolve(env, ref)
    with locked(env, cid):
        st = _current(env, cid)
        n = containers.user_mounts(env, cid)
        path = rootfs.mount(env, st.row)
        containers.set_user_mounts(env, cid, n + 1)
        return path


def unmount(env, ref: str) -> str:
    """One user's mount fewer; the rootfs is unmounted when none is left and no process of the container uses it."""
    cid = containers.resolve(env, ref)
    with locked(env, cid):
        st = _current(env, cid)
        n = max(0, containers.user_mounts(env, cid) - 1)
        containers.set_user_mounts(env, cid, n)
        if n == 0 and st.status not in containers.ACTIVE:  # a running container keeps it until it exits
            rootfs.unmount(env, st.row)
    return cid


def _current(env, cid: str) -> ContainerState:
    containers.sync_one(env, cid)
    st = containers.load(env, cid)
    if st.status == "removing":
        raise WrongState(f"container {st.name} is being removed: cannot mount or unmount it")
    return st


def _need_snapshot(st: ContainerState, what: str) -> None:
    if not st.row.snapshot:
        raise WrongState(f"container {st.name} runs from a directory (--rootfs): {what} needs an image-based container")


def export(env, ref: str, out) -> None:
    st = containers.get(env, ref)
    _need_snapshot(st, "export")
    from pallet.engine import images

    images.export_rootfs(env.images, st.row.snapshot, out)


def commit(env, ref: str, reference: str = "", *, changes=(), message: str = "", author: str = "",
           pause: bool = True) -> str:
    st = containers.get(env, ref)
    _need_snapshot(st, "commit")
    from pallet.engine import images

    rt = env.runtime(st.config.runtime)
    paused = pause and st.status == "running"
    if paused:
        rt.pause(st.id)
    try:
        cfg = st.config
        ccfg = {"Env": list(cfg.env), "Cmd": list(cfg.cmd) or None, "Entrypoint": list(cfg.entrypoint) or None,
                "WorkingDir": cfg.workdir, "User": cfg.user, "Labels": dict(cfg.labels)}
        ccfg = {k: v for k, v in ccfg.items() if v not in (None, "", {})}
        return images.commit_container(env.images, st.row.snapshot, cfg.image_id, reference=reference,
                                       changes=list(changes), message=message, author=author, container_config=ccfg)
    finally:
        if paused:
            rt.resume(st.id)
