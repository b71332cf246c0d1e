"""`info`, `system df [-v]`, `system prune`, `system check` end to end: Docker's field names and numbers,
what prune says it removed is gone, and what a crash leaves is found and repaired."""

from __future__ import annotations

import json
import os
import shutil
import re
import sqlite3

import pytest

from conftest import requires_root
from engine_helpers import leftover_cgroups, leftover_mounts
from engine_image import one_error_line, pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]

DECIMAL = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}


def parse_decimal(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)\s*([kMGT]?B)", text.strip())
    assert m, text
    return float(m.group(1)) * DECIMAL[m.group(2)]


def df_rows(pl) -> dict[str, list[str]]:
    header, *rows = pl.ok("system", "df").splitlines()
    assert re.split(r"\s{2,}", header.strip()) == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    out = {}
    for row in rows:
        cells = re.split(r"\s{2,}", row.strip())
        out[cells[0]] = cells[1:]
    return out


def test_info_fields_like_docker(pl):
    pl.run_d("--name", "up1", "--", "sleep", "300")
    pl.ok("create", "--name", "made", *pl.image, "true")
    info = json.loads(pl.ok("info", "-f", "{{json .}}"))
    assert info["CgroupVersion"] == ("2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1")
    assert info["CgroupDriver"] == "cgroupfs"
    assert info["Driver"] == "overlay2"
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]
    assert {"runc", "pallet"} <= set(info["Runtimes"]) and info["DefaultRuntime"] in info["Runtimes"]
    assert (info["Containers"], info["ContainersRunning"], info["ContainersPaused"], info["ContainersStopped"]) == (2, 1, 0, 1)
    assert info["Images"] == 1
    assert pl.ok("info", "-f", "{{.CgroupVersion}}").strip() == info["CgroupVersion"]
    assert pl.ok("system", "info", "-f", "{{.Containers}} {{.Images}}").strip() == "2 1"
    text = pl.ok("info")
    assert "Storage Driver: overlay2" in text and "Cgroup Driver: cgroupfs" in text and "seccomp" in text
    r = pl("info", "--bogus")
    assert r.returncode == 125 and "--bogus" in one_error_line(r)


def test_system_df_numbers(pl):
    empty = df_rows(pl)
    assert empty["Containers"][:2] == ["0", "0"] and empty["Local Volumes"][:2] == ["0", "0"]
    assert empty["Images"][:2] == ["1", "0"]
    pl.ok("tag", "busybox:test", "busybox:other")  # two names, one image
    run = pl.run_d("--name", "writer", "-v", "vol1:/vol", "--", "sh", "-c",
                   "head -c 5000000 /dev/urandom > /big && head -c 2000000 /dev/urandom > /vol/v && sleep 300")
    stopped = pl.run_d("--name", "small", "--", "sh", "-c", "head -c 3000000 /dev/urandom > /three")
    wait_for(lambda: pl.inspect(stopped)["State"]["Status"] == "exited", what="the exit")
    wait_for(lambda: pl("exec", "writer", "test", "-s", "/vol/v").returncode == 0, what="the writes")
    rows = df_rows(pl)
    assert rows["Images"][:2] == ["1", "1"], rows
    total, active, size, reclaim = rows["Containers"]
    assert (total, active) == ("2", "1"), rows
    assert 8e6 <= parse_decimal(size) < 9e6, rows                         # 5 MB + 3 MB of writable layers
    assert 3e6 <= parse_decimal(reclaim.split(" (")[0]) < 3.5e6, rows     # the stopped one's
    vtotal, vactive, vsize, _ = rows["Local Volumes"]
    assert (vtotal, vactive) == ("1", "1") and 2e6 <= parse_decimal(vsize) < 2.5e6, rows
    verbose = pl.ok("system", "df", "-v")
    assert "Containers space usage:" in verbose and run[:12] in verbose and stopped[:12] in verbose
    assert "vol1" in verbose
    r = pl("system", "df", "--bogus")
    assert r.returncode == 125


def test_system_prune_removes_what_it_says(pl):
    keep = pl.run_d("--name", "keep", "-v", "used:/u", "--", "sleep", "300")
    gone = pl.ok("create", "--name", "gone", "-v", "/anon", *pl.image, "true").strip()
    pl.ok("volume", "create", "named")
    out = pl.ok("system", "prune", "-f")
    assert gone in out.split() and keep not in out
    assert pl.ok("ps", "-aq", "--no-trunc").split() == [keep]
    before = pl.ok("volume", "ls", "-q").split()
    assert len(before) == 3                                                   # volumes only with --volumes
    out = pl.ok("system", "prune", "-f", "--volumes")
    anon = [v for v in before if v not in ("named", "used")][0]
    # Docker >= 23: --volumes takes the unused anonymous volumes; named ones stay unless asked for
    assert anon in out and sorted(pl.ok("volume", "ls", "-q").split()) == ["named", "used"]
    assert pl.ok("images", "-q") != ""                                        # in use: kept even with -a
    pl.ok("rm", "-f", "keep")
    out = pl.ok("system", "prune", "-f", "-a")
    assert pl.ok("images", "-q") == "" and "Total reclaimed space:" in out


def test_system_check_finds_and_repairs_crash_leftovers(pl):
    """A `pallet rm` killed between its steps leaves a mounted rootfs, a snapshot and run files but no record;
    a killed `run` leaves a record whose process is gone. check reports (exit 1, as podman), check --repair repairs."""
    victim = pl.run_d("--name", "victim", "--", "sleep", "300")
    orphan = pl.ok("create", "--name", "orphan", *pl.image, "true").strip()
    merged = pl.ok("mount", "orphan").strip()
    half = pl.ok("create", "--name", "half", *pl.image, "true").strip()
    db = sqlite3.connect(pl.root / "pallet.db")
    with db:
        db.execute("DELETE FROM containers WHERE id = ?", (orphan,))   # the record went, nothing else did
        db.execute("DELETE FROM containers WHERE id = ?", (half,))     # killed mid-create: only its layer dir
        db.execute("DELETE FROM snapshots WHERE key = ?", (half,))
    db.close()
    pid = pl.inspect("victim")["State"]["Pid"]
    os.kill(pid, 9)                                                   # and a container died with its monitor busy
    r = pl("system", "check")
    assert orphan[:12] in r.stdout and half[:12] in r.stdout, r.stdout
    assert r.returncode == 1 and "damage detected" in r.stderr, r.stderr
    assert os.path.ismount(merged)                                    # reported, not touched
    pl.ok("system", "check", "--repair")
    assert not os.path.exists(merged) or not os.path.ismount(merged)
    assert leftover_mounts(pl.root) == []
    assert not (pl.root / "containers" / orphan).exists()
    assert not any(orphan in name or half in name for name in os.listdir(pl.root / "overlay" / "active"))
    assert leftover_cgroups([orphan]) == []
    wait_for(lambda: pl.inspect("victim")["State"]["Status"] == "exited", what="the victim's exit")
    assert "No problems found" in pl.ok("system", "check")
    assert victim in pl.ok("ps", "-aq", "--no-trunc")


def test_system_check_removes_a_damaged_container_only_with_force(pl):
    """As podman: --repair fixes leftovers but keeps containers whose storage is damaged; --force removes them."""
    cid = pl.ok("create", "--name", "damaged", *pl.image, "true").strip()
    shutil.rmtree(pl.root / "overlay" / "active" / cid)              # its writable layer is gone
    r = pl("system", "check")
    assert r.returncode == 1 and "writable layer is missing" in r.stdout, r.stdout + r.stderr
    r = pl("system", "check", "--repair")
    assert r.returncode == 1 and "left alone" in r.stdout, r.stdout + r.stderr
    assert cid in pl.ok("ps", "-aq", "--no-trunc")
    r = pl("system", "check", "--force")
    assert r.returncode == 0 and "writable layer is missing: repaired" in r.stdout, r.stdout + r.stderr
    assert pl.ok("ps", "-aq") == ""
    assert "No problems found" in pl.ok("system", "check")
