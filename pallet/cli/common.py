"""What every verb module shares: global options and error reporting."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from pallet.errors import PalletError

DEFAULT_ROOT = "/var/lib/pallet"
DEFAULT_RUNROOT = "/run/pallet"
DEFAULT_CONFIG = "/etc/pallet/daemon.json"


@dataclass(frozen=True, kw_only=True)
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


@dataclass
class Outcome:
    code: int = 0


@contextmanager
def report_errors(exit_code: int = 1):
    """Turn a PalletError into one line on stderr and a non-zero exit code."""
    outcome = Outcome()
    try:
        yield outcome
    except PalletError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        outcome.code = exit_code
    except KeyboardInterrupt:
        outcome.code = 130
    except BrokenPipeError:
        outcome.code = 0
