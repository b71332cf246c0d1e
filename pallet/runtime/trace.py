"""`--debug`: timestamps of the create/run phases on stderr, from the parent and the init alike.

Off by default and costs one attribute read per mark; forked children
inherit the switch.
"""

from __future__ import annotations

import os
import time

enabled = False
_t0 = time.monotonic()


def mark(label: str) -> None:
    if enabled:
        os.write(2, f"pallet-runtime: debug: {(time.monotonic() - _t0) * 1000:7.2f} ms pid {os.getpid()}: {label}\n".encode())
