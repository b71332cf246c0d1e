"""The parent side of create: fork stage 1, drive the sync protocol, clean up on failure.

Fork only from a single-threaded process: the children run Python after
fork, and setns into a mount namespace refuses a multi-threaded caller.
"""

from __future__ import annotations

import _socket
import os
import time

from pallet.errors import PalletError


class ContainerError(PalletError):
    """The container's init failed; the message is the child's own."""


def threads() -> int:
    with open("/proc/self/stat", "rb") as f:
        data = f.read()
    return int(data[data.rindex(b")") + 2 :].split()[17])


def require_single_thread(what: str) -> None:
    n = threads()
    if n != 1:
        raise PalletError(f"{what}: the caller has {n} threads; pallet.runtime forks only from a single-threaded process")


def high_fd(fd: int, minimum: int) -> int:
    """Move `fd` to a number >= minimum so it cannot collide with --preserve-fds."""
    if fd >= minimum:
        return fd
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, minimum)
    os.close(fd)
    return new


def socketpair(minimum: int):
    a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    if min(a.fileno(), b.fileno()) < minimum:
        a = _socket.socket(fileno=high_fd(a.detach(), minimum))
        b = _socket.socket(fileno=high_fd(b.detach(), minimum))
    return a, b


def wait_gone(pid: int, start: int | None, timeout: float = 5.0) -> None:
    """Wait until `pid` is reaped or a zombie (it may not be our child)."""
    from pallet.runtime.state import proc_stat

    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        info = proc_stat(pid)
        if info is None or info[0] in ("Z", "X") or (start is not None and info[1] != start):
            return
        if time.monotonic() > deadline:
            return
        time.sleep(0.002)


def exit_reason(status: int) -> str:
    code = os.waitstatus_to_exitcode(status)
    return f"exit status {code}" if code >= 0 else f"killed by signal {-code}"


def kill_quietly(pid: int | None, sig: int = 9) -> None:
    if pid:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def connect_console(path: str) -> int:
    """A connected fd to --console-socket (the receiver of the pty master)."""
    from pallet.errors import InvalidArgument
    from pallet.linux._libc import strerror

    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as exc:
        s.close()
        raise InvalidArgument(f"--console-socket {path}: {strerror(exc.errno)}") from None
    return s.detach()
