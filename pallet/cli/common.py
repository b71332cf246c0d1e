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
    config_set: bool = False  # --config or PALLET_CONFIG named the file: a missing one is an error

    @classmethod
    def from_flags(cls, flags: dict[str, str]) -> "GlobalOptions":
        env = os.environ
        config = flags.get("--config") or env.get("PALLET_CONFIG")
        return cls(
            root=os.path.abspath(flags.get("--root") or env.get("PALLET_ROOT") or DEFAULT_ROOT),
            runroot=os.path.abspath(flags.get("--runroot") or env.get("PALLET_RUNROOT") or DEFAULT_RUNROOT),
            config=config or DEFAULT_CONFIG,
            runtime=flags.get("--runtime"),
            debug="--debug" in flags,
            config_set=bool(config),
        )


def call_reporting_errors(fn, *args, exit_code: int = 1) -> int:
    """`fn(*args)`'s exit code; a PalletError becomes one line on stderr and `exit_code`.

    An OSError that reaches here (a path from the user that is not what it must be, a full or read-only
    disk) is one line naming the path and the cause too, exit 125 (an error of pallet's, not the container's),
    never a traceback; --debug (-D) shows the traceback as well.
    """
    try:
        return fn(*args)
    except PalletError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return getattr(exc, "exit_code", exit_code)  # a bad flag says 125 itself (cli.flags.FlagError)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if args and getattr(args[0], "debug", False):
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"Error: {os_error_line(exc)}\n")
        return 125


def os_error_line(exc: OSError) -> str:
    """`PATH: cause` (`PATH -> PATH2: cause` for a rename or link), or the cause alone when no path is known."""
    cause = exc.strerror or str(exc)
    if exc.filename is None:
        return cause
    where = str(exc.filename)
    if exc.filename2 is not None:
        where += f" -> {exc.filename2}"
    return f"{where}: {cause[:1].lower()}{cause[1:]}"
