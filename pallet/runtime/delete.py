"""`delete [-f] ID`: kill what is left, remove the cgroup and the state, run poststop hooks."""

from __future__ import annotations

import os

from pallet.errors import NotFound, PalletError
from pallet.runtime import state as st
from pallet.runtime.process.parent import kill_quietly, wait_gone


def delete(root: str, container_id: str, *, force: bool = False) -> None:
    try:
        cs = st.load(root, container_id)
    except NotFound:
        if force:
            return
        raise
    status = st.status(root, cs)
    if status in (st.RUNNING, st.PAUSED) and not force:
        raise PalletError(f"container {container_id} is {status}: cannot delete (stop it first or use --force)")
    destroy(root, cs, status)


def destroy(root: str, cs: st.ContainerState, status: str | None = None) -> None:
    """Tear a container down whatever its status; poststop hooks only warn."""
    status = status or st.status(root, cs)
    mgr = None
    if cs.cgroup:
        from pallet.cgroups import manager_from_json

        try:
            mgr = manager_from_json(cs.cgroup)
        except Exception:
            mgr = None
    if status != st.STOPPED:
        if mgr is not None and status == st.PAUSED:
            mgr.kill_all(9)
            mgr.thaw()
        kill_quietly(cs.pid, 9)
        wait_gone(cs.pid, cs.pid_start)
    if mgr is not None:
        try:
            mgr.destroy(kill=True)
        except Exception as exc:
            raise PalletError(f"container {cs.id}: remove cgroup: {exc}") from None
    hooks = (cs.config.get("hooks") or {}).get("poststop")
    if hooks:
        from pallet.oci.runtime_spec import Hooks
        from pallet.runtime.hooks import run_hooks

        try:
            parsed = Hooks.from_json({"poststop": hooks})
            run_hooks("poststop", parsed.get("poststop"), st.oci_state(cs, st.STOPPED))
        except Exception as exc:
            os.write(2, f"pallet-runtime: warning: poststop hooks: {exc}\n".encode())
    st.remove_tree(st.container_dir(root, cs.id))
