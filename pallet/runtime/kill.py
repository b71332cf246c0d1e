"""`kill ID [SIGNAL]` and `kill --all` (every process of the container's cgroup)."""

from __future__ import annotations

import os

from pallet.runtime import signals
from pallet.runtime import state as st


def kill(root: str, container_id: str, sig: str | int = "SIGTERM", *, all: bool = False) -> None:
    num = signals.parse(sig)
    cs = st.load(root, container_id)
    status = st.status(root, cs)
    st.require(cs, status, (st.CREATED, st.RUNNING, st.PAUSED), "kill")
    if all and cs.cgroup:
        from pallet.cgroups import manager_from_json

        mgr = manager_from_json(cs.cgroup)
        mgr.kill_all(num)
        if status == st.PAUSED and num == 9:
            mgr.thaw()
        return
    try:
        os.kill(cs.pid, num)
    except ProcessLookupError:
        pass
