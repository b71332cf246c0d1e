"""`pallet debug enter`: run a host command in a process's namespaces (nsenter).

By default every namespace of the target but the mount namespace, so host
binaries (ip, tcpdump, ss) run against the container's network, hostname
and IPC while still finding their files on the host.

    CLI process                       child (forked)                  grandchild
    -----------                       --------------                  ----------
    open nothing, fork  ─────────►    open /proc/PID/ns/* first
    ignore SIGINT, wait               setns in ENTER_ORDER
                                      pid ns joined? fork ───────►    execvp CMD
                                      (setns(PID) moves children only)
                                      wait, exit with its status
                                      else execvp CMD directly

All setns calls happen in the forked child: joining a mount or user
namespace needs a single-threaded process, and the CLI keeps its own.
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass

from pallet.debug import procfs
from pallet.errors import InvalidArgument, NotFound
from pallet.linux.ns import NAMESPACES, setns

# nsenter's order: user first (it gives the capabilities the rest need in
# a rootless container), mount late (after it, /proc paths are the
# container's), time last.
ENTER_ORDER: tuple[str, ...] = ("user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time")
FLAGS: dict[str, int] = {proc_name: flag for flag, proc_name in NAMESPACES.values()}
DEFAULT: frozenset[str] = frozenset(ENTER_ORDER) - {"mnt"}


@dataclass(frozen=True)
class EnterPlan:
    pid: int
    types: tuple[str, ...]      # namespaces to join, in order
    skipped: tuple[str, ...]    # requested but already shared with the caller
    argv: tuple[str, ...]


def plan(pid: int, argv: list[str], requested: frozenset[str] | None = None, proc: str = "/proc") -> EnterPlan:
    if not argv:
        raise InvalidArgument("enter: no command given (use: enter PID -- CMD...)")
    if not procfs.exists(pid, proc):
        raise NotFound(f"no process {pid}")
    wanted = DEFAULT if not requested else requested
    unknown = wanted - set(ENTER_ORDER)
    if unknown:
        raise InvalidArgument(f"enter: unknown namespace type {sorted(unknown)[0]!r}")
    types, skipped = [], []
    for t in ENTER_ORDER:
        if t not in wanted:
            continue
        theirs = procfs.ns_inode(pid, t, proc)
        if theirs is None:
            if requested:  # asked for by name, so say it can't be done
                raise NotFound(f"process {pid} has no readable {t} namespace")
            continue
        # Joining one's own user namespace is EINVAL; the others are no-ops.
        (skipped if theirs == procfs.ns_inode("self", t, proc) else types).append(t)
    return EnterPlan(pid, tuple(types), tuple(skipped), tuple(argv))


def _exec(argv: tuple[str, ...]) -> None:  # pragma: no cover - runs in the child
    try:
        os.execvp(argv[0], list(argv))
    except OSError as exc:
        sys.stderr.write(f"pallet debug enter: {argv[0]}: {exc.strerror}\n")
        os._exit(127 if exc.errno == 2 else 126)


def _child(p: EnterPlan, proc: str) -> None:  # pragma: no cover - runs in the child
    try:
        fds = [(t, os.open(os.path.join(proc, str(p.pid), "ns", t), os.O_RDONLY | os.O_CLOEXEC)) for t in p.types]
        for t, fd in fds:
            setns(fd, FLAGS[t], path=f"/proc/{p.pid}/ns/{t}")
            os.close(fd)
    except OSError as exc:
        sys.stderr.write(f"pallet debug enter: {exc}\n")
        os._exit(125)
    if "pid" in p.types:
        child = os.fork()
        if child == 0:
            _exec(p.argv)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
    _exec(p.argv)


def run(p: EnterPlan, proc: str = "/proc") -> int:
    """Run the plan; the command's exit code (128+N when killed by signal N)."""
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:  # pragma: no cover
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _child(p, proc)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's
    try:
        _, status = os.waitpid(child, 0)
    finally:
        signal.signal(signal.SIGINT, previous)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)
