"""The typed parent <-> init protocol over a SOCK_SEQPACKET socketpair.

One frozen value per message; each travels as one JSON datagram
{"type": <class name>, ...fields}. The child ALWAYS answers with
`ChildError` instead of dying silently, so the user reads the child's own
message ("exec /bin/nope: no such file or directory"), never "EOF".

    parent (pallet-runtime)         stage 1 (fork)                 stage 2 (fork; PID 1 of the container)
      | plan everything, import all   |
      |  the child runs; fork -------> | non-dumpable
      | subreaper (run); cgroup made,  |
      |  limits written; [new cgroup   |
      |  ns: add_pid(stage 1)]         |
      | ---- Go(cgroup_files) ---------> |
      |                                | join the cgroup (v1: "0" > tasks)
      |                                | setns joins; unshare(CLONE_NEWUSER)?
      | <--- NeedIdMaps --------------- |    (only with a new user ns)
      | write uid_map/gid_map          |
      | ---- IdMapsDone --------------> | unshare(the other new ns); fork -> |
      | <--- Stage2Pid(pid) ----------- | _exit(0)                           | mounts, devices (before pivot),
      | waitpid(stage 1); add_pid(stage 2) where                             |   in parallel with the parent
      |  it did not join itself (the cgroup2 mount)                          |
      | ---- Setup(state, seccomp program) ---------------------------------> |
      | <--- RunHooks ------------------------------------------------------- |    (only with prestart/createRuntime hooks)
      | run prestart, createRuntime hooks                                     |
      | ---- HooksDone -----------------------------------------------------> | createContainer hooks; pivot_root;
      |                                                                       | masked/readonly paths, sysctl, tty,
      |                                                                       | rlimits, cwd, exe lookup, user, caps
      | <--- Ready ---------------------------------------------------------- | close socket; block opening exec.fifo
      |                                                                       |   (`start` opens it) -> execve
      any step: <--- ChildError(message) --- and the child exits 1

Without a namespace to join by path, a user or a time namespace (the usual
case), stage 1 and 2 are one process: the parent clone()s the init into its
new namespaces, and into the cgroup2 dir of its cgroup (clone3
CLONE_INTO_CGROUP) where there is one. Go and the v1 join go as above,
Stage2Pid is not sent, and Setup follows Go at once (pallet.runtime.create).
The init does its mounts, device nodes and links before Go, while the parent
makes the cgroup and compiles seccomp; only the cgroup mounts wait for the
join and the new cgroup ns (pallet.runtime.rootfs.expand_cgroup_mounts).
"""

from __future__ import annotations

from pallet.oci.runtime_spec import dumps, loads
from pallet.values import frozen


@frozen
class Go:
    """Parent -> stage 1: the cgroup is ready, join it through these files (write "0"), go on."""

    cgroup_files: list = []


@frozen
class NeedIdMaps:
    """Stage 1 -> parent: I unshared a user ns; write my uid/gid maps."""


@frozen
class IdMapsDone:
    """Parent -> stage 1."""


@frozen
class Stage2Pid:
    """Stage 1 -> parent: the container's init, as a pid of the parent's pid ns."""

    pid: int


@frozen
class Setup:
    """Parent -> stage 2: the OCI state (JSON object) hooks receive on stdin; and the seccomp
    program (the BPF as hex, its filter flags), compiled while the init mounted."""

    state: dict
    seccomp: str = ""
    seccomp_flags: int = 0


@frozen
class RunHooks:
    """Stage 2 -> parent: mounts are done; run prestart and createRuntime hooks now."""


@frozen
class HooksDone:
    """Parent -> stage 2."""


@frozen
class Ready:
    """Stage 2 -> parent: set up; blocking on the exec fifo."""


@frozen
class ExecPid:
    """Exec's middle process -> parent: the pid of the process that joined the container."""

    pid: int


@frozen
class ChildError:
    """Child -> parent: the one-line reason the child is about to exit 1."""

    message: str


@frozen
class ChildStart:
    """Not a message: what stage 1 inherits across fork (the parent's half of the preparation)."""

    spec: object  # pallet.oci.runtime_spec.Spec
    container_id: str
    bundle: str
    no_pivot: bool
    sock: object  # stage 1's end of the socketpair
    state_dir_fd: int
    console_fd: int | None
    preserve_fds: int
    seccomp_program: object | None
    new_keyring: bool


MESSAGES = {cls.__name__: cls for cls in (Go, NeedIdMaps, IdMapsDone, Stage2Pid, Setup, RunHooks, HooksDone, Ready, ExecPid, ChildError)}


class ProtocolError(Exception):
    pass


def send(sock, msg) -> None:
    body = {"type": type(msg).__name__}
    body.update({k: getattr(msg, k) for k in msg.__fields__})
    sock.send(dumps(body).encode())


def recv(sock):
    """The next message, or None at EOF."""
    resets = 0
    while True:
        try:
            data = sock.recv(1 << 20)
            break
        except InterruptedError:
            continue
        except ConnectionResetError:
            # The child exited with our last message unread: the kernel reports ECONNRESET once,
            # before handing over what the child sent last (its ChildError). Read again.
            resets += 1
            if resets > 1:
                return None
    if not data:
        return None
    body = loads(data.decode())
    cls = MESSAGES[body.pop("type")]
    return cls(**body)


def expect(sock, cls):
    msg = recv(sock)
    if isinstance(msg, cls):
        return msg
    if isinstance(msg, ChildError):
        raise ProtocolError(msg.message)
    raise ProtocolError(f"expected {cls.__name__}, got {type(msg).__name__ if msg else 'EOF'}")
