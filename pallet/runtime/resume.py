"""`resume ID`: thaw a paused container."""

from __future__ import annotations

from pallet.runtime import state as st
from pallet.runtime.pause import manager


def resume(root: str, container_id: str) -> None:
    cs = st.load(root, container_id)
    st.require(cs, st.status(root, cs), (st.PAUSED,), "resume")
    manager(cs, "resume").thaw()


def main(root: str, opts: dict, pos: list[str], log) -> int:
    resume(root, pos[0])
    return 0
