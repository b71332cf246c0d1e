"""Run OCI hooks: state JSON on stdin, the hook's args/env, an optional timeout.

Who runs what, and where (runtime spec "Lifecycle"):
  prestart, createRuntime   the parent, in the runtime's namespaces, after the container's mounts
  createContainer           the container init, in the container's namespaces, before pivot_root
  startContainer            the container init, after pivot_root, just before the user program
  poststart                 `start`, in the runtime's namespaces; a failure only warns
  poststop                  `delete`, in the runtime's namespaces; a failure only warns
"""

from __future__ import annotations

import os
import select
import sys

from pallet.errors import PalletError
from pallet.oci.runtime_spec import Hook, dumps

FATAL = ("prestart", "createRuntime", "createContainer", "startContainer")


class HookError(PalletError):
    pass


def run_hook(kind: str, hook: Hook, state: dict) -> None:
    """Fork/exec one hook and wait for it; raise HookError naming the hook and the cause."""
    data = dumps(state).encode()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(w)
            os.dup2(r, 0)
            env = dict(e.split("=", 1) for e in hook.env)
            os.execve(hook.path, list(hook.args) or [hook.path], env)
        except BaseException as exc:
            os.write(2, f"{kind} hook {hook.path}: {getattr(exc, 'strerror', None) or exc}\n".encode())
        os._exit(127)
    os.close(r)
    try:
        try:
            os.write(w, data)
        except BrokenPipeError:  # the hook need not read its stdin
            pass
    finally:
        os.close(w)
    status = _wait(pid, hook.timeout)
    if status is None:
        raise HookError(f"{kind} hook {hook.path}: timed out after {hook.timeout}s")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        cause = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        raise HookError(f"{kind} hook {hook.path}: {cause}")


def _wait(pid: int, timeout: int | None):
    if timeout is None:
        while True:
            try:
                return os.waitpid(pid, 0)[1]
            except InterruptedError:
                continue
    pidfd = os.pidfd_open(pid)
    try:
        poll = select.poll()
        poll.register(pidfd, select.POLLIN)
        if not poll.poll(timeout * 1000):
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return None
        return os.waitpid(pid, 0)[1]
    finally:
        os.close(pidfd)


def run_hooks(kind: str, hooks, state: dict) -> None:
    """Run every hook of `kind` in order; fatal kinds raise, poststart/poststop warn on stderr."""
    for hook in hooks:
        try:
            run_hook(kind, hook, state)
        except HookError as exc:
            if kind in FATAL:
                raise
            sys.stderr.write(f"pallet-runtime: warning: {exc}\n")
