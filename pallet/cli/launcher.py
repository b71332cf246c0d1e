"""The `pallet` command's entry point, the same mechanism as pallet-runtime's (pallet/runtime/launcher.py).

`make venv` replaces pip's `.venv/bin/pallet` with a few lines run by the
venv's python with `-I -S` that call `run()`: no `site` (.pth files) and no
`import re` from pip's wrapper (~12 ms), and the engine's modules served from
the bundle `make venv` builds (pallet.runtime.bundle, ~3 ms more). Without
`site`, the venv's site-packages (zstandard, isal: image archives only) is
appended to sys.path here; no .pth file is read.
"""

import gc
import os
import sys


def run() -> int:
    # A command's start allocates ~10k objects (its imports): at the default threshold (700) that is ~14
    # collections, ~2 ms, and a container's init cloned from this process would copy-on-write the pages each
    # one touches. Collections still run in the long-lived verbs (logs -f, attach, a foreground run).
    gc.set_threshold(100_000)
    venv_site = os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "lib",
                             "python%d.%d" % sys.version_info[:2], "site-packages")
    if os.path.isdir(venv_site) and venv_site not in sys.path:
        sys.path.append(venv_site)
    from pallet.runtime import bundle

    bundle.install()
    from pallet.cli.main import main

    return exit_now(main())


def exit_now(code: int) -> int:
    """End the process once the streams are flushed, skipping the interpreter's teardown (module by module,
    ~1.5-2 ms of every command): a command has closed its files and its database by now (cli.main)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`pallet ps | head -1`): exit as the interpreter would
            code = code or 120
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
    sys.exit(run())
