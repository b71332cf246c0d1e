"""`pause ID`: freeze every process of the container (v1 freezer, v2 cgroup.freeze).

The status then reads `paused` (state.status asks the cgroup). runc
allows pausing a created container too: its init is waiting on the exec
fifo and freezes like any other task.
"""

from __future__ import annotations

from pallet.errors import Unavailable
from pallet.runtime import state as st


def manager(cs: st.ContainerState, verb: str):
    if not cs.cgroup:
        raise Unavailable(f"container {cs.id} has no cgroup: cannot {verb}")
    from pallet.cgroups import manager_from_json

    return manager_from_json(cs.cgroup)


def pause(root: str, container_id: str) -> None:
    cs = st.load(root, container_id)
    st.require(cs, st.status(root, cs), (st.RUNNING, st.CREATED), "pause")
    manager(cs, "pause").freeze()


def main(root: str, opts: dict, pos: list[str], log) -> int:
    pause(root, pos[0])
    return 0
