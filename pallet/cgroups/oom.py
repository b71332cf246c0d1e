"""Waiting for OOM events of a container's cgroup (`events` reports them).

    watcher = mgr.oom_watcher()
    n = watcher.wait(timeout)     # OOM events since the last call (0 on timeout)
    watcher.close()

v1: an eventfd registered on memory.oom_control through
cgroup.event_control, as runc does. The kernel signals it each time the
cgroup hits OOM, whether the OOM killer then kills (the usual case) or
is disabled (disableOOMKiller: the task just waits), so both are seen.
v2 (and v1 if registration fails): the `oom` counter of memory.events,
polled; it counts the same condition.
"""

from __future__ import annotations

import os
import select
import time

from pallet.cgroups import fs

POLL = 0.1


class EventfdWatcher:
    def __init__(self, memory_dir: str) -> None:
        self.fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            control = os.open(os.path.join(memory_dir, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                # The kernel keeps what it needs; our fd of the file can go.
                fs.write(memory_dir, "cgroup.event_control", f"{self.fd} {control}")
            finally:
                os.close(control)
        except BaseException:
            os.close(self.fd)
            raise

    def wait(self, timeout: float) -> int:
        ready, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not ready:
            return 0
        try:
            return os.eventfd_read(self.fd)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        os.close(self.fd)   # unregisters the event


class CounterWatcher:
    def __init__(self, read_count) -> None:
        self.read_count = read_count
        self.last = self._read()

    def _read(self) -> int:
        try:
            return self.read_count()
        except OSError:   # the cgroup is gone: no more events
            return self.last

    def wait(self, timeout: float) -> int:
        time.sleep(max(0.0, min(timeout, POLL)))
        count = self._read()
        new, self.last = max(0, count - self.last), count
        return new

    def close(self) -> None:
        pass
