"""`pallet version`."""

from __future__ import annotations

import platform

from pallet import __version__
from pallet.cli.common import GlobalOptions


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    print(f"pallet version {__version__}")
    print(f"python {platform.python_version()}")
    return 0
