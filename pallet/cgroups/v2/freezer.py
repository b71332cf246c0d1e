"""v2 freezer: cgroup.freeze, and cgroup.events `frozen` to know it took."""

from __future__ import annotations

import time

from pallet.cgroups import fs
from pallet.errors import PalletError

NAME = "freezer"


def freeze(dir: str, timeout: float = 5.0) -> None:
    fs.write(dir, "cgroup.freeze", "1")
    deadline = time.monotonic() + timeout
    while not is_frozen(dir):
        if time.monotonic() > deadline:
            fs.write(dir, "cgroup.freeze", "0")
            raise PalletError(f"cgroup {dir}: not frozen after {timeout:g}s")
        time.sleep(0.005)


def thaw(dir: str) -> None:
    fs.write(dir, "cgroup.freeze", "0")


def is_frozen(dir: str) -> bool:
    return fs.read_kv(dir, "cgroup.events").get("frozen", 0) == 1
