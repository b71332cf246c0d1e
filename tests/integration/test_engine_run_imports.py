"""The modules a `pallet run --rm` loads: the verb timed against podman must not grow heavy imports back."""

from __future__ import annotations

import subprocess

import pytest

from conftest import VENV_BIN, requires_root
from engine_image import pl  # noqa: F401 (a fixture)

pytestmark = [requires_root, pytest.mark.root]

# Each costs 2-20 ms of every run here (json brings re, enum and functools; sqlite3's package datetime)
HEAVY = {"json", "re", "enum", "functools", "collections", "argparse", "dataclasses", "typing", "subprocess",
         "sqlite3", "datetime", "threading", "hashlib", "asyncio", "shutil", "tempfile"}

PROBE = r"""
import sys
sys.path.insert(0, REPO)
from pallet.runtime import bundle
bundle.install()
import pallet.cli.main
code = pallet.cli.main.main(ARGV)
print("LOADED", " ".join(sorted(sys.modules)))
sys.exit(code)
"""


def test_run_rm_loads_no_heavy_module(pl):
    import os

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    pl.ok("run", "--rm", *pl.image, "true")  # the first run compiles the seccomp filter into the cache
    argv = ["--root", str(pl.root), "--runroot", str(pl.runroot), "run", "--rm", *pl.image, "sh", "-c", "echo in"]
    code = PROBE.replace("REPO", repr(repo)).replace("ARGV", repr(argv))
    r = subprocess.run([str(VENV_BIN / "python"), "-I", "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("in\n"), r.stdout
    loaded = set(r.stdout.split("LOADED", 1)[1].split())
    assert HEAVY & loaded == set()
    assert "_sqlite3" in loaded  # the state is in SQLite, read without the package
