"""pallet.runtime.bundle: modules served from the bundle only while they are what was compiled.

Each case runs in a fresh `python -I -S` (the way pallet-runtime starts), so
the test process's own imports are untouched.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_py(code: str, *args: str) -> str:
    prologue = f"import sys\nsys.path.insert(0, {str(REPO)!r})\nfrom pallet.runtime import bundle\n"
    r = subprocess.run([sys.executable, "-I", "-S", "-c", prologue + textwrap.dedent(code), *args],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def loader_of(module: str) -> str:
    return f"import {module}; print(type({module}.__spec__.loader).__name__)"


def test_serves_the_runtime_modules(tmp_path):
    path = str(tmp_path / "bundle")
    out = run_py(f"""
        n = bundle.build(sys.argv[1])
        assert n > 50, n
        assert bundle.install(sys.argv[1])
        {loader_of("pallet.runtime.state")}
        from pallet.runtime.state import validate_id
        validate_id("ok-1")
        print(pallet.runtime.state.__file__)
    """, path)
    loader, origin = out.splitlines()
    assert loader == "_Finder"
    assert origin == str(REPO / "pallet" / "runtime" / "state.py")


def test_a_changed_source_is_imported_from_the_source(tmp_path):
    out = run_py(f"""
        bundle.build(sys.argv[1])
        bundle.install(sys.argv[1])
        finder = next(f for f in sys.meta_path if type(f).__name__ == "_Finder")
        src, mtime, *rest = finder.entries["pallet.runtime.state"]
        finder.entries["pallet.runtime.state"] = (src, mtime - 1, *rest)  # as if edited after the build
        {loader_of("pallet.runtime.state")}
    """, str(tmp_path / "bundle"))
    assert out == "SourceFileLoader"


def test_a_rebuilt_bundle_is_not_read_with_the_old_index(tmp_path):
    out = run_py(f"""
        bundle.build(sys.argv[1])
        bundle.install(sys.argv[1])
        bundle.build(sys.argv[1])  # another file now: offsets from the first index would read garbage
        {loader_of("pallet.runtime.state")}
    """, str(tmp_path / "bundle"))
    assert out == "SourceFileLoader"


def test_a_missing_or_foreign_file_is_ignored(tmp_path):
    (tmp_path / "foreign").write_bytes(b"not a bundle at all")
    out = run_py("""
        print(bundle.install(sys.argv[1]), bundle.install(sys.argv[2]))
    """, str(tmp_path / "missing"), str(tmp_path / "foreign"))
    assert out == "False False"


def test_bundled_code_has_no_docstrings_and_runs_unoptimized(tmp_path):
    out = run_py("""
        bundle.build(sys.argv[1])
        bundle.install(sys.argv[1])
        import pallet.runtime.state as state
        print(type(state.__spec__.loader).__name__, state.__doc__, state.write_atomic.__doc__, sys.flags.optimize)
        state.validate_id("ok-1")
    """, str(tmp_path / "bundle"))
    assert out == "_Finder None None 0"
