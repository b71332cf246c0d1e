"""pause / resume / update / events through `pallet-runtime`, on the real kernel.

Containers are busybox bundles whose cgroupsPath is under the test's
`cgroup_path`, so the fixture removes every cgroup they leave.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from cgroup_helpers import cpu_ticks
from conftest import PALLET_RUNTIME

pytestmark = [pytest.mark.root, pytest.mark.skipif(os.geteuid() != 0, reason="needs root")]
MiB = 1 << 20


class Runtime:
    def __init__(self, binary: str, root: str, bundle) -> None:
        self.binary, self.root, self.bundle = binary, root, bundle

    def __call__(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
        r = subprocess.run([self.binary, "--root", self.root, *args], capture_output=True, text=True,
                           input=input, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"{args}: rc={r.returncode} {r.stderr}")
        return r

    def run(self, cid: str, args: list[str], cgroups_path: str, resources: dict | None = None) -> int:
        config_path = self.bundle / "config.json"
        if not config_path.exists():
            self("spec", "--bundle", str(self.bundle))
        config = json.loads(config_path.read_text())
        config["process"]["terminal"] = False
        config["process"]["args"] = args
        config["linux"]["cgroupsPath"] = cgroups_path
        config["linux"]["resources"] = dict(config["linux"].get("resources") or {}, **(resources or {}))
        config_path.write_text(json.dumps(config))
        # The detached container inherits stdout/stderr: files, not pipes,
        # or waiting for EOF would wait for the container.
        with open(self.bundle / f"{cid}.log", "w+") as log:
            r = subprocess.run([self.binary, "--root", self.root, "run", "-d", "--bundle", str(self.bundle), cid],
                               stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=60)
            if r.returncode != 0:
                log.seek(0)
                raise AssertionError(f"run {cid}: rc={r.returncode} {log.read()}")
        return json.loads(self("state", cid).stdout)["pid"]

    def status(self, cid: str) -> str:
        return json.loads(self("state", cid).stdout)["status"]


@pytest.fixture
def rt(pallet_dirs, bundle, cgroup_path):
    r = Runtime(PALLET_RUNTIME, str(pallet_dirs["runtime-root"]), bundle)
    yield r
    for cid in os.listdir(r.root):
        r("delete", "-f", cid, check=False)


def test_pause_freezes_and_resume_continues(rt, cgroup_path):
    pid = rt.run("busy", ["sh", "-c", "while :; do :; done"], f"{cgroup_path}/busy")
    rt("pause", "busy")
    assert rt.status("busy") == "paused"
    assert "paused" in rt("list").stdout
    before = cpu_ticks(pid)
    time.sleep(0.5)
    assert cpu_ticks(pid) == before
    again = rt("pause", "busy", check=False)
    assert again.returncode == 1 and "container busy is paused: cannot pause" in again.stderr
    rt("resume", "busy")
    assert rt.status("busy") == "running"
    time.sleep(0.5)
    assert cpu_ticks(pid) > before
    r = rt("resume", "busy", check=False)
    assert r.returncode == 1 and "is running: cannot resume" in r.stderr


def test_delete_force_of_paused_container(rt, cgroup_path):
    rt.run("p", ["sleep", "600"], f"{cgroup_path}/p")
    rt("pause", "p")
    rt("delete", "-f", "p")
    assert not os.path.exists(f"/sys/fs/cgroup/freezer{cgroup_path}/p")


def read(hier: str, cgroup_path: str, cid: str, name: str) -> str:
    return open(f"/sys/fs/cgroup/{hier}{cgroup_path}/{cid}/{name}").read().strip()


def test_update_flags(rt, cgroup_path):
    rt.run("u", ["sleep", "600"], f"{cgroup_path}/u", {"memory": {"limit": 64 * MiB}})
    rt("update", "--memory", "128m", "--memory-swap", "256m", "--cpu-quota", "50000", "--cpu-period", "100000",
       "--cpu-shares", "512", "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "50", "u")
    assert read("memory", cgroup_path, "u", "memory.limit_in_bytes") == str(128 * MiB)
    assert read("memory", cgroup_path, "u", "memory.memsw.limit_in_bytes") == str(256 * MiB)
    assert read("cpu", cgroup_path, "u", "cpu.cfs_quota_us") == "50000"
    assert read("cpu", cgroup_path, "u", "cpu.cfs_period_us") == "100000"
    assert read("cpu", cgroup_path, "u", "cpu.shares") == "512"
    assert read("cpuset", cgroup_path, "u", "cpuset.cpus") == "0"
    assert read("pids", cgroup_path, "u", "pids.max") == "50"
    # a second update keeps what the first set (saved in state.json)
    rt("update", "--pids-limit", "60", "u")
    assert read("pids", cgroup_path, "u", "pids.max") == "60"
    assert read("memory", cgroup_path, "u", "memory.limit_in_bytes") == str(128 * MiB)


def test_update_resources_file_and_stdin(rt, cgroup_path, tmp_path):
    rt.run("r", ["sleep", "600"], f"{cgroup_path}/r")
    f = tmp_path / "res.json"
    f.write_text(json.dumps({"memory": {"limit": 96 * MiB}, "pids": {"limit": 7}}))
    rt("update", "-r", str(f), "r")
    assert read("memory", cgroup_path, "r", "memory.limit_in_bytes") == str(96 * MiB)
    assert read("pids", cgroup_path, "r", "pids.max") == "7"
    rt("update", "-r", "-", "r", input=json.dumps({"pids": {"limit": 9}}))
    assert read("pids", cgroup_path, "r", "pids.max") == "9"


def test_update_bad_values_name_the_field(rt, cgroup_path):
    rt.run("b", ["sleep", "600"], f"{cgroup_path}/b")
    r = rt("update", "--memory", "lots", "b", check=False)
    assert r.returncode == 1 and "--memory" in r.stderr
    r = rt("update", "--pids-limit", "-5", "b", check=False)
    assert r.returncode == 1 and "linux.resources.pids.limit" in r.stderr
    r = rt("update", "--cpuset-cpus", "9-1", "b", check=False)
    assert r.returncode == 1 and "linux.resources.cpu.cpus" in r.stderr


def test_events_stats_one_json(rt, cgroup_path):
    rt.run("e", ["sleep", "600"], f"{cgroup_path}/e", {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}})
    out = rt("events", "--stats", "e").stdout
    assert out.count("\n") == 1
    event = json.loads(out)
    assert event["type"] == "stats" and event["id"] == "e"
    data = event["data"]
    assert data["memory"]["usage"]["limit"] == 64 * MiB
    assert data["pids"] == {"current": 1, "limit": 20}
    assert data["cpu"]["usage"]["percpu"]


def test_events_stream_reports_oom(rt, cgroup_path):
    rt.run("oom", ["sh", "-c", "sleep 1; dd if=/dev/zero of=/dev/null bs=100M count=1; sleep 1"],
           f"{cgroup_path}/oom", {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}})
    events = subprocess.run([PALLET_RUNTIME, "--root", rt.root, "events", "--interval", "500ms", "oom"],
                            capture_output=True, text=True, timeout=30)
    lines = [json.loads(line) for line in events.stdout.splitlines()]
    assert {"type": "oom", "id": "oom"} in lines
    assert any(e["type"] == "stats" for e in lines)


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_events_stats_matches_runc_shape(rt, cgroup_path, pallet_dirs):
    """Same bundle under runc and pallet-runtime: the same keys where both report."""
    resources = {"memory": {"limit": 64 * MiB}, "pids": {"limit": 20}}
    rt.run("mine", ["sleep", "600"], f"{cgroup_path}/mine", resources)
    runc = Runtime("runc", str(pallet_dirs["root"] / "runc"), rt.bundle)
    try:
        runc.run("theirs", ["sleep", "600"], f"{cgroup_path}/theirs", resources)
        ours = json.loads(rt("events", "--stats", "mine").stdout)
        theirs = json.loads(runc("events", "--stats", "theirs").stdout)
    finally:
        runc("delete", "-f", "theirs", check=False)
    assert set(ours) == set(theirs) and ours["type"] == theirs["type"] == "stats"
    o, t = ours["data"], theirs["data"]
    assert set(t) <= set(o)
    for section in ("cpu", "memory", "pids", "cpuset"):
        assert set(t[section]) <= set(o[section]), section
    assert set(t["cpu"]["usage"]) == set(o["cpu"]["usage"])
    assert set(t["memory"]["usage"]) == set(o["memory"]["usage"])
    assert set(t["memory"]["raw"]) == set(o["memory"]["raw"])
    assert o["memory"]["usage"]["limit"] == t["memory"]["usage"]["limit"] == 64 * MiB
    assert o["pids"] == t["pids"] == {"current": 1, "limit": 20}
    assert o["cpuset"] == t["cpuset"]


@pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed")
def test_stats_of_a_runc_container_match_runc(rt, cgroup_path, pallet_dirs):
    """The same cgroup read by runc (`events --stats`) and by a pallet manager
    opened on runc's cgroupsPath: equal where the values can't move."""
    from pallet.cgroups import open_manager

    resources = {"memory": {"limit": 48 * MiB, "swap": 96 * MiB}, "pids": {"limit": 12},
                 "cpu": {"cpus": "0", "quota": 50000, "period": 100000}}
    runc = Runtime("runc", str(pallet_dirs["root"] / "runc"), rt.bundle)
    try:
        runc.run("same", ["sleep", "600"], f"{cgroup_path}/same", resources)
        before = open_manager(f"{cgroup_path}/same", "same").stats().to_json()
        theirs = json.loads(runc("events", "--stats", "same").stdout)["data"]
        after = open_manager(f"{cgroup_path}/same", "same").stats().to_json()
    finally:
        runc("delete", "-f", "same", check=False)
    for key in ("pids", "cpuset"):
        assert before[key] == theirs[key], key
    for entry in ("usage", "swap"):
        assert before["memory"][entry]["limit"] == theirs["memory"][entry]["limit"]
    assert set(before["memory"]["raw"]) == set(theirs["memory"]["raw"])
    assert before["cpu"]["usage"]["total"] <= theirs["cpu"]["usage"]["total"] <= after["cpu"]["usage"]["total"]
    assert len(before["cpu"]["usage"]["percpu"]) == len(theirs["cpu"]["usage"]["percpu"])
    assert before["memory"]["raw"]["hierarchical_memory_limit"] == theirs["memory"]["raw"]["hierarchical_memory_limit"]
