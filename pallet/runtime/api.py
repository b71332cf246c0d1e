"""The library API the engine calls in process (no CLI, no subprocess).

    from pallet.runtime import api
    opts = api.CreateOptions(root=R, id="c1", bundle=B, stdio=(0, out_fd, err_fd))
    cs = api.create(opts)                       # -> ContainerState (pid, bundle, created, cgroup, ...)
    api.start(R, "c1")                          # poststart hooks run; the user program is exec'd
    api.state(R, "c1")                          # -> OCI state dict; status created|running|paused|stopped
    api.kill(R, "c1", "SIGTERM", all=False)     # names or numbers
    api.delete(R, "c1", force=False)            # poststop hooks; cgroup and state dir removed
    code = api.exec_process(api.ExecOptions(root=R, id="c1", args=("ls",), detach=False))
    code = api.run(opts, detach=False)          # create + start + wait + delete -> exit status (128+n)
    api.list_containers(R); api.pids(R, "c1"); api.default_spec()

Errors are pallet.errors types with one-line messages: NotFound (no such
container), AlreadyExists, InvalidArgument (the config.json field named),
WrongState ("container c1 is stopped: cannot kill"), and ContainerError
(the container init's own message: "exec /bin/nope: no such file or
directory"). Nothing is left behind when create fails.

Process model: the caller must be single-threaded when it calls create,
run or exec (checked: they fork, and the children setns). `run` and a
foreground `exec` make the caller a child subreaper so it can reap the
container's process. A created container's init is reparented to the
caller's subreaper or to init once create returns.
"""

from __future__ import annotations

from pallet.runtime.create import CreateOptions, create
from pallet.runtime.delete import delete
from pallet.runtime.exec import ExecOptions, exec_process
from pallet.runtime.kill import kill
from pallet.runtime.list import list_containers
from pallet.runtime.process.parent import ContainerError
from pallet.runtime.ps import pids
from pallet.runtime.run import run
from pallet.runtime.spec import default_spec
from pallet.runtime.start import start
from pallet.runtime.state import ContainerState


def state(root: str, container_id: str) -> dict:
    """The OCI state of a container (ociVersion, id, status, pid, bundle, annotations)."""
    from pallet.runtime import state as st

    cs = st.load(root, container_id)
    return st.oci_state(cs, st.status(root, cs))


__all__ = [
    "CreateOptions", "ContainerError", "ContainerState", "ExecOptions", "create", "default_spec", "delete",
    "exec_process", "kill", "list_containers", "pids", "run", "start", "state",
]
