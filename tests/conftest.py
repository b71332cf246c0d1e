"""Shared fixtures: busybox rootfs, per-test roots, a cleanup registry.

Every resource a test creates (mount, cgroup, process, netns) goes into
`cleanup`, which undoes it in reverse order even when the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))

import busybox_rootfs  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PALLET = str(VENV_BIN / "pallet")
PALLET_RUNTIME = str(VENV_BIN / "pallet-runtime")

requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def requires_binary(name: str):
    return pytest.mark.skipif(shutil.which(name) is None, reason=f"{name} is not installed")


class Cleanup:
    def __init__(self) -> None:
        self._undo: list[Callable[[], object]] = []

    def add(self, undo: Callable[[], object]) -> None:
        self._undo.append(undo)

    def run(self) -> None:
        errors = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as exc:  # keep undoing the rest
                errors.append(exc)
        if errors:
            raise errors[0]


@pytest.fixture
def cleanup():
    c = Cleanup()
    yield c
    c.run()


@pytest.fixture(scope="session")
def busybox_template(tmp_path_factory) -> Path:
    """A busybox rootfs built once per session; copy it, never modify it."""
    return Path(busybox_rootfs.build(str(tmp_path_factory.mktemp("busybox") / "rootfs")))


@pytest.fixture
def rootfs(tmp_path, busybox_template) -> Path:
    """A private copy of the busybox rootfs for one test."""
    dest = tmp_path / "bundle" / "rootfs"
    dest.parent.mkdir()
    subprocess.run(["cp", "-a", str(busybox_template), str(dest)], check=True)
    return dest


@pytest.fixture
def bundle(rootfs) -> Path:
    """An OCI bundle dir holding `rootfs/` (tests write config.json)."""
    return rootfs.parent


@pytest.fixture
def pallet_dirs(tmp_path) -> dict[str, Path]:
    """A private --root / --runroot pair for the engine, and a runtime --root."""
    dirs = {name: tmp_path / name for name in ("root", "runroot", "runtime-root")}
    for d in dirs.values():
        d.mkdir()
    return dirs
