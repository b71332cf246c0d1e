"""The `pl` fixture of the engine tests: a `pallet` with its own --root/--runroot and the busybox image
imported as busybox:test; afterwards every container is removed, leftover monitors are killed, and nothing
may be left (mounts under the root, cgroups of its containers)."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from engine_helpers import Pallet, leftover_cgroups, leftover_mounts, monitor_pids


@pytest.fixture
def pl(pallet_dirs, busybox_template, cleanup):
    p = Pallet(root=pallet_dirs["root"], runroot=pallet_dirs["runroot"], image=["busybox:test"])
    tar = subprocess.run(["tar", "--numeric-owner", "-C", str(busybox_template), "-c", "."], capture_output=True,
                         check=True)
    subprocess.run(p.argv("import", "-", "busybox:test"), input=tar.stdout, capture_output=True, check=True)
    p.seen = set()  # ids a test saw that may be gone from `ps` by the end (--rm, killed commands)

    def undo():
        ids = set(p("ps", "-aq", "--no-trunc").stdout.split()) | p.seen
        p.remove_all()
        for pid in monitor_pids(p):  # a monitor a test stopped or orphaned
            os.kill(pid, signal.SIGKILL)
        assert leftover_mounts(pallet_dirs["root"]) == []
        assert leftover_cgroups(list(ids)) == []

    cleanup.add(undo)
    return p


def wait_for(fn, timeout: float = 10.0, what: str = "condition"):
    """Poll `fn` until it returns something true; its last value, or AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def one_error_line(r) -> str:
    """A failed command's stderr must be one line; return it."""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def slowed_runc(pl, tmp_path, runc: str, pause: str):
    """Runtime "slowrunc" in pl's daemon.json: runc behind a wrapper that pauses 3 s before `runc create`
    (pause="before") or after it finished, before the monitor hears of it ("after"). The returned marker appears
    when the pause begins: a window in which the monitor is creating the container."""
    marker = tmp_path / "creating"
    wrapper = tmp_path / "slowrunc"
    if pause == "before":
        create = f"touch {marker}; sleep 3; exec {runc} \"$@\""
    else:
        create = f"{runc} \"$@\"; rc=$?; touch {marker}; sleep 3; exit $rc"
    wrapper.write_text(f"#!/bin/sh\ncase \" $* \" in *\" create \"*) {create};; esac\nexec {runc} \"$@\"\n")
    wrapper.chmod(0o755)
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"runtimes": {"slowrunc": {"path": "%s"}}}' % wrapper)
    pl.config = cfg
    return marker


def run_d_killed_in_create(pl, marker) -> str:
    """`run -d --runtime slowrunc --name racer` SIGKILLed in slowed_runc's pause; the container's id."""
    proc = subprocess.Popen(pl.argv("run", "-d", "--runtime", "slowrunc", "--name", "racer", *pl.image, "sleep", "100"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(marker.exists, 20, "runc create")
    finally:
        proc.kill()
        proc.wait()
    cid = pl.ok("inspect", "-f", "{{.Id}}", "racer").strip()
    pl.seen.add(cid)
    return cid
