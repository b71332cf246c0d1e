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


# --- cgroups ----------------------------------------------------------------

CGROUP_ROOT = "/sys/fs/cgroup"


def _remove_cgroup_everywhere(relpath: str) -> None:
    """SIGKILL every task in `relpath` (all hierarchies), then rmdir it deepest first."""
    import signal
    import time

    tops = [os.path.join(CGROUP_ROOT, h, relpath.lstrip("/")) for h in os.listdir(CGROUP_ROOT)]
    tops = [t for t in tops if os.path.isdir(t)]
    for top in tops:  # thaw first: a frozen task can't die
        for state in ("freezer.state", "cgroup.freeze"):
            p = os.path.join(top, state)
            if os.path.exists(p):
                with open(p, "w") as f:
                    f.write("THAWED" if state == "freezer.state" else "0")
    deadline = time.monotonic() + 5
    for top in tops:
        for d, subdirs, files in os.walk(top, topdown=False):
            while True:
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        pids = [int(p) for p in f.read().split()]
                except FileNotFoundError:
                    pids = []
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)


SHARED_PARENTS = ("pallet",)  # the default parent of runtime and engine containers (`/pallet/<id>`)


def _shared_parent_dirs() -> set[str]:
    if not os.path.isdir(CGROUP_ROOT):
        return set()
    found = set()
    for hierarchy in os.listdir(CGROUP_ROOT):
        for name in SHARED_PARENTS:
            d = os.path.join(CGROUP_ROOT, hierarchy, name)
            if os.path.isdir(d) and not os.path.islink(d):
                found.add(d)
    return found


@pytest.fixture(scope="session", autouse=True)
def shared_cgroup_parents():
    """At the end of the session, rmdir the shared parent cgroups (/pallet) this session made.

    Only the ones that did not exist when the session started, and only
    while empty: the kernel refuses to rmdir a cgroup that still has a
    child or a task (EBUSY), so a parent another process's container (or
    a concurrent session) uses is never removed, and a leak stays visible.
    """
    before = _shared_parent_dirs() if os.geteuid() == 0 else set()
    yield
    if os.geteuid() != 0:
        return
    for d in sorted(_shared_parent_dirs() - before, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass  # busy or already gone


# Host sysctls a container engine (or a daemon a test starts: dockerd turns on forwarding unless told not to)
# could change for good. Every test must leave them as it found them; a change is undone and fails the test.
GUARDED_SYSCTLS = ("net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv6/conf/all/forwarding",
                   "vm/swappiness", "vm/overcommit_memory", "kernel/msgmax", "kernel/msgmnb", "kernel/shmmax",
                   "kernel/shmall", "kernel/sem", "kernel/domainname", "kernel/hostname", "net/core/somaxconn",
                   "fs/mqueue/msg_max")


def _read_sysctls() -> dict[str, str]:
    values = {}
    for name in GUARDED_SYSCTLS:
        try:
            with open(f"/proc/sys/{name}") as f:
                values[name] = f.read()
        except OSError:
            pass
    return values


def _restore_changed(before: dict[str, str]) -> dict[str, tuple[str, str]]:
    changed = {k: (v, now) for k, v in before.items() if (now := _read_sysctls().get(k, v)) != v}
    for name, (old, _) in changed.items():
        try:
            with open(f"/proc/sys/{name}", "w") as f:
                f.write(old)
        except OSError:
            pass
    return changed


@pytest.fixture(autouse=True)
def host_sysctls_unchanged():
    before = _read_sysctls()
    yield
    changed = _restore_changed(before)
    assert not changed, f"the test changed host sysctls (restored): {changed}"


@pytest.fixture(scope="session", autouse=True)
def host_sysctls_unchanged_by_the_session():
    """The same over the whole session: a module- or session-scoped fixture (a daemon) changes them outside
    any one test's bracket."""
    before = _read_sysctls()
    yield
    changed = _restore_changed(before)
    assert not changed, f"the session changed host sysctls (restored): {changed}"


@pytest.fixture
def cgroup_path(request):
    """A unique cgroup parent "/pallet-test-<hex>", removed (with its tasks
    killed) from every hierarchy after the test, even when it fails."""
    import uuid

    path = f"/pallet-test-{uuid.uuid4().hex[:10]}"
    unified = os.path.join(CGROUP_ROOT, "unified", "cgroup.subtree_control")
    before = set(open(unified).read().split()) if os.path.exists(unified) else set()
    yield path
    _remove_cgroup_everywhere(path)
    # A v2 manager (or a hybrid hugetlb limit) enabled controllers in the
    # cgroup2 root; switch off what this test turned on, so the host can
    # still mount them as v1 hierarchies (crun needs v1 hugetlb here).
    # The kernel refuses (EBUSY) while a child cgroup enables one further.
    if os.path.exists(unified):
        for controller in set(open(unified).read().split()) - before:
            try:
                with open(unified, "w") as f:
                    f.write(f"-{controller}")
            except OSError:
                pass
