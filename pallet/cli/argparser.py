"""argparse for the verbs that are not on a hot path (images, debug): one-line errors, exit 125.

argparse's own error prints the usage and exits 2; Docker prints one line
("unknown flag: --bogus") and exits 125. The hot verbs use pallet.cli.flags.
"""

from __future__ import annotations

import argparse

from pallet.cli.flags import FlagError


class ArgumentParser(argparse.ArgumentParser):
    """Subparsers made from it inherit the behaviour (argparse uses the parent's class)."""

    def error(self, message: str):  # type: ignore[override]
        unknown = message.removeprefix("unrecognized arguments: ")
        if unknown != message and unknown.startswith("-"):
            message = f"unknown flag: {unknown.split()[0]}"
        raise FlagError(f"{self.prog}: {message}")
