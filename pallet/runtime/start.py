"""`start`: open the exec fifo so the created init execs the user program; then poststart hooks."""

from __future__ import annotations

import os
import select

from pallet.errors import PalletError
from pallet.runtime import state as st


def start(root: str, container_id: str, *, loaded: st.ContainerState | None = None) -> st.ContainerState:
    """`loaded`: the state create just returned (run), so it is not read back from disk."""
    cs = loaded if loaded is not None else st.load(root, container_id)
    st.require(cs, st.status(root, cs), (st.CREATED,), "start")
    fifo = os.path.join(st.container_dir(root, container_id), st.EXEC_FIFO)
    try:
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise PalletError(f"container {container_id} was started by someone else") from None
    try:
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        while True:
            # The init blocks in open(O_WRONLY) until we open; then it writes one byte.
            if poll.poll(50):
                data = os.read(fd, 1)
                if data:
                    break
                if not st.init_alive(cs):
                    raise PalletError(f"container {container_id}: init exited before start")
            elif not st.init_alive(cs):
                raise PalletError(f"container {container_id}: init exited before start")
    finally:
        os.close(fd)
    try:
        os.unlink(fifo)
    except FileNotFoundError:
        pass
    hooks = (cs.config.get("hooks") or {}).get("poststart")
    if hooks:
        from pallet.oci.runtime_spec import Hooks
        from pallet.runtime.hooks import run_hooks

        parsed = Hooks.from_json({"poststart": hooks})
        run_hooks("poststart", parsed.get("poststart"), st.oci_state(cs, st.RUNNING))
    return cs
