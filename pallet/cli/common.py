"""What every verb module shares: the global options and the error-to-exit-code rule.

Imported by every command before its verb module: it must stay light (no
dataclasses, no contextlib: ~25 ms of imports together, more than the rest
of `pallet version`).
"""

from __future__ import annotations

import os
import sys

from pallet.errors import PalletError
from pallet.values import frozen

DEFAULT_ROOT = "/var/lib/pallet"
DEFAULT_RUNROOT = "/run/pallet"
DEFAULT_CONFIG = "/etc/pallet/daemon.json"


@frozen
class GlobalOptions:
    root: str = DEFAULT_ROOT
    runroot: str = DEFAULT_RUNROOT
    config: str = DEFAULT_CONFIG
    runtime: str | None = None
    debug: bool = False

    @classmethod
    def from_flags(cls, flags: dict[str, str]) -> "GlobalOptions":
        env = os.environ
        return cls(
            root=os.path.abspath(flags.get("--root") or env.get("PALLET_ROOT") or DEFAULT_ROOT),
            runroot=os.path.abspath(flags.get("--runroot") or env.get("PALLET_RUNROOT") or DEFAULT_RUNROOT),
            config=flags.get("--config") or env.get("PALLET_CONFIG") or DEFAULT_CONFIG,
            runtime=flags.get("--runtime"),
            debug="--debug" in flags,
        )


def call_reporting_errors(fn, *args, exit_code: int = 1) -> int:
    """`fn(*args)`'s exit code; a PalletError becomes one line on stderr and `exit_code`."""
    try:
        return fn(*args)
    except PalletError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return getattr(exc, "exit_code", exit_code)  # a bad flag says 125 itself (cli.flags.FlagError)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
