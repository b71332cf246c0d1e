#!/usr/bin/python3 -IS
"""A fast entry point for `pallet-runtime`: `python -I -S pallet/runtime/launcher.py ARGS...`.

The console script pip generates runs `import re` (~9 ms here) and the
interpreter's `site` (.pth files, ~4 ms) before our first line: a third
of runc's whole `run`. Run this file with -I -S instead (isolated, no
site); it puts the directory holding the `pallet` package on sys.path
itself, which works for an editable checkout and a site-packages install
alike. `make venv` replaces pip's `.venv/bin/pallet-runtime` with a script
of the same few lines that calls `run()`, its shebang the venv's python
with `-IS`. `run()` serves the runtime's modules from the bundle `make
venv` builds (pallet.runtime.bundle), when there is one.
"""

import gc
import os
import sys


def run() -> int:
    # A command's start allocates ~10k objects (its imports): at the default threshold (700) that is ~14
    # collections, ~2 ms, and a container's init cloned from this process would copy-on-write the pages each
    # one touches. Collections still run in the long-lived verbs (logs -f, attach, a foreground run).
    gc.set_threshold(100_000)
    from pallet.runtime import bundle

    bundle.install()
    from pallet.runtime.cli import main

    code = main()
    # The interpreter's teardown (module by module) is ~1.5 ms of every command: our files are closed by now.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: exit as the interpreter would
            code = code or 120
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
    sys.exit(run())
