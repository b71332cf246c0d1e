"""A container's filesystem from the host: mount/unmount, export, commit (cp and diff: pallet.engine.filesystem)."""

from __future__ import annotations

from pallet.engine import containers, rootfs
from pallet.engine.containers import ContainerState, locked
from pallet.errors import WrongState


def mount(env, ref: str) -> str:
    st = containers.get(env, ref)
    with locked(env, st.id):
        return rootfs.mount(env, st.row)


def unmount(env, ref: str) -> str:
    st = containers.get(env, ref)
    if st.status in containers.ACTIVE:
        return st.id  # still in use by its processes: Docker/podman leave it mounted too
    with locked(env, st.id):
        rootfs.unmount(env, st.row)
    return st.id


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
