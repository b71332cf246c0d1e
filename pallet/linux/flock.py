"""flock(2) on a lock file for the length of a `with` block.

A class, not @contextmanager: contextlib (with functools and collections)
costs ~1 ms of imports on the paths of `run` and `ps`, which open locks.
"""

from __future__ import annotations

import fcntl
import os
import time


class FileLock:
    """`with FileLock(path):` flock `op` (LOCK_EX or LOCK_SH) on `path`, created 0600; released on exit.

    `wait` (seconds) bounds the wait: polled with LOCK_NB, and when it runs out the body runs without the
    lock (`held` is False). Without `wait` it blocks until the lock is taken.
    """

    __slots__ = ("path", "op", "wait", "fd", "held")

    def __init__(self, path: str, op: int = fcntl.LOCK_EX, *, wait: float | None = None):
        self.path, self.op, self.wait, self.fd, self.held = path, op, wait, -1, False

    def __enter__(self) -> "FileLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if self.wait is None:
                fcntl.flock(fd, self.op)
                self.held = True
            else:
                self.held = _flock_within(fd, self.op, self.wait)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc) -> bool:
        os.close(self.fd)
        self.fd = -1
        return False


def _flock_within(fd: int, op: int, wait: float) -> bool:
    """flock(op) on `fd`, polling for at most `wait` seconds; whether it was taken."""
    deadline = time.monotonic() + wait
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, op | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
