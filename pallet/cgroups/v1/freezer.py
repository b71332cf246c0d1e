"""v1 freezer: freezer.state THAWED / FREEZING / FROZEN."""

from __future__ import annotations

import time

from pallet.cgroups import fs
from pallet.errors import PalletError

NAME = "freezer"


def freeze(dir: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        # Rewriting FROZEN retries the tasks that were in a syscall the
        # first time (runc does the same, for the same reason).
        fs.write(dir, "freezer.state", "FROZEN")
        if state(dir) == "FROZEN":
            return
        if time.monotonic() > deadline:
            fs.write(dir, "freezer.state", "THAWED")
            raise PalletError(f"cgroup {dir}: freezer stuck in FREEZING for {timeout:g}s")
        time.sleep(0.01)


def thaw(dir: str) -> None:
    fs.write(dir, "freezer.state", "THAWED")


def state(dir: str) -> str:
    return fs.read(dir, "freezer.state").strip()


def is_frozen(dir: str) -> bool:
    return state(dir) in ("FROZEN", "FREEZING")
