"""Monitors, logs, daemon.json, stats/info/df, volumes, and crash robustness through the `pallet` command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import requires_root
from engine_helpers import leftover_cgroups, monitor_pids
from engine_image import pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]


def test_monitor_is_lean_and_dumps_stacks(pl):
    cid = pl.run_d("--", "sleep", "100")
    assert wait_for(lambda: len(monitor_pids(pl, cid)) == 1)
    [mon] = monitor_pids(pl, cid)
    pss = next(int(line.split()[1]) for line in open(f"/proc/{mon}/smaps_rollup") if line.startswith("Pss:"))
    # A sanity bound (kB): alone it measures ~3.5 MiB, 2.9 MiB each with 50 (bench/engine.py has the numbers);
    # a fork of the CLI without exec would keep ~12 MiB.
    assert pss < 8 * 1024, pss
    os.kill(mon, signal.SIGUSR1)
    stacks = pl.runroot / "containers" / cid / "stacks.txt"
    assert wait_for(lambda: stacks.exists() and "monitor" in stacks.read_text())
    assert pl.inspect(cid)["State"]["Running"]  # SIGUSR1 did not hurt it


def test_json_file_log_rotation_and_logs_flags(pl):
    cid = pl.run_d("--log-opt", "max-size=2k", "--log-opt", "max-file=3", "--",
                   "sh", "-c", "for i in $(seq 1 200); do echo line-$i; done; echo oops >&2")
    assert pl.ok("wait", cid).strip() == "0"
    log = pl.inspect(cid)["LogPath"]
    assert os.path.exists(log + ".1") and os.path.exists(log + ".2") and not os.path.exists(log + ".3")
    assert all(os.path.getsize(f) <= 2048 for f in (log, log + ".1", log + ".2"))
    r = pl("logs", "--tail", "2", cid)
    assert r.stdout == "line-200\n" and r.stderr == "oops\n"
    first = json.loads(open(log + ".2").readline())
    assert set(first) == {"log", "stream", "time"}
    r = pl("logs", "-t", "--tail", "1", cid)
    assert r.stderr.startswith("20") and r.stderr.endswith("Z oops\n")
    r = pl("logs", "--since", "1h", "--tail", "1", cid)
    assert (r.stdout, r.stderr) == ("", "oops\n")  # the last record of all, stdout and stderr together
    assert pl.ok("logs", "--until", "2000-01-01T00:00:00Z", cid) == ""


def test_logs_follow_until_exit(pl):
    cid = pl.run_d("--", "sh", "-c", "echo a; sleep 0.5; echo b")
    r = pl("logs", "-f", cid, timeout=20)
    assert r.stdout == "a\nb\n"


def test_logs_survive_monitor_death(pl):
    cid = pl.run_d("--", "sh", "-c", "echo before; sleep 100")
    assert wait_for(lambda: "before" in pl.ok("logs", cid))
    for pid in monitor_pids(pl, cid):
        os.kill(pid, signal.SIGKILL)
    assert pl.ok("logs", cid) == "before\n"


def test_rm_f_when_the_monitor_is_dead(pl):
    cid = pl.run_d("--", "sleep", "100")
    pid = int(pl.ok("inspect", "-f", "{{.State.Pid}}", cid))
    for m in monitor_pids(pl, cid):
        os.kill(m, signal.SIGKILL)
    pl.ok("rm", "-f", cid)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"))
    assert pl.ok("ps", "-aq") == ""
    assert leftover_cgroups([cid]) == []


def test_rm_f_when_the_monitor_is_hung(pl):
    cid = pl.run_d("--", "sleep", "100")
    pid = int(pl.ok("inspect", "-f", "{{.State.Pid}}", cid))
    [mon] = monitor_pids(pl, cid)
    os.kill(mon, signal.SIGSTOP)
    pl.ok("rm", "-f", cid)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}") and not os.path.exists(f"/proc/{mon}"))
    assert pl.ok("ps", "-aq") == "" and "No problems found" in pl.ok("system", "check")


def test_restart_policy_and_detached_rm(pl):
    cid = pl.run_d("--restart", "on-failure:2", "--", "sh", "-c", "echo run; exit 3")
    assert wait_for(lambda: pl.ok("inspect", "-f", "{{.RestartCount}}", cid).strip() == "2"
                 and pl.ok("inspect", "-f", "{{.State.Status}}", cid).strip() == "exited", 20)
    # the monitor may still be flushing the last run's log line when the status reads exited
    assert wait_for(lambda: pl.ok("logs", cid).count("run") == 3)
    cid2 = pl.run_d("--rm", "--", "sh", "-c", "sleep 0.5; exit 7")
    pl.seen.add(cid2)
    assert pl.ok("wait", cid2).strip() == "7"  # the code of a --rm container, as Docker
    assert wait_for(lambda: cid2[:12] not in pl.ok("ps", "-aq"))


def test_parallel_run_and_rm_lose_nothing(pl):
    def run(i):
        return pl("run", "-d", "--name", f"par{i}", *pl.image, "sleep", "100", timeout=120)

    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(run, range(20)))
    for r in results:
        assert r.returncode == 0, r.stderr
        assert "locked" not in r.stderr
    ids = {r.stdout.strip() for r in results}
    pl.seen.update(ids)
    listed = set(pl.ok("ps", "-q", "--no-trunc").split())
    assert listed == ids
    with ThreadPoolExecutor(20) as ex:
        results = list(ex.map(lambda c: pl("rm", "-f", c, timeout=120), sorted(ids)))
    for r in results:
        assert r.returncode == 0, r.stderr
        assert "locked" not in r.stderr
    assert pl.ok("ps", "-aq") == ""


def test_killed_pallet_leaves_a_state_the_next_command_repairs(pl):
    # mid-run (foreground): the container keeps running; the next commands see it and rm -f cleans up
    proc = subprocess.Popen(pl.argv("run", "--name", "fg", *pl.image, "sleep", "100"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_for(lambda: "fg" in pl.ok("ps"))
    proc.kill()
    proc.wait()
    assert "fg" in pl.ok("ps")
    pl.ok("rm", "-f", "fg")
    # killed at random points of `run -d` and `rm -f`: system check repairs, nothing is left behind
    for delay in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3):
        p = subprocess.Popen(pl.argv("run", "-d", *pl.image, "sleep", "100"), stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
    ids = pl.ok("ps", "-aq", "--no-trunc").split()
    pl.seen.update(ids)
    for cid in ids[:3]:
        p = subprocess.Popen(pl.argv("rm", "-f", cid), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
    pl.ok("system", "check", "--repair")
    pl.remove_all()
    assert pl.ok("ps", "-aq") == ""
    assert "No problems found" in pl.ok("system", "check")
    assert not os.listdir(pl.root / "containers")


def _start_killed_before_runtime_start(pl, cid: str) -> None:
    """`pallet start` SIGKILLed in the window between the runtime's create and start: strace holds the CLI at its
    open of exec.fifo (the start), so the container's creator is done and waits for the CLI when it dies."""
    fifo = pl.runroot / "runtimes" / "pallet" / cid / "exec.fifo"
    tracer = subprocess.Popen(["strace", "-o", os.devnull, "-P", str(fifo), "-e", "trace=openat",
                               "-e", "inject=openat:delay_enter=30000000", *pl.argv("start", cid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        cfg = pl.runroot / "containers" / cid / "monitor.cfg"  # written by the creator just before it waits
        assert wait_for(lambda: cfg.exists(), 20, "the creator to wait for start")
        [cli] = wait_for(lambda: [int(c) for c in open(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read().split()])
        os.kill(cli, signal.SIGKILL)
    finally:
        tracer.kill()
        tracer.wait()


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to stop `start` in its window")
@pytest.mark.parametrize("repair", ["rm", "check"])
def test_start_killed_between_create_and_start(pl, repair):
    cid = pl.ok("create", *pl.image, "sleep", "100").strip()
    pl.seen.add(cid)
    _start_killed_before_runtime_start(pl, cid)
    state = pl.runroot / "runtimes" / "pallet" / cid
    # nobody will start it: its creator deletes it (the never-started init would hold the container's lock forever)
    assert wait_for(lambda: not state.exists() and leftover_cgroups([cid]) == [], 20, "the creator to delete it")
    if repair == "check":  # the container was never started: it is back to a startable "created"
        pl.ok("system", "check", "--repair", timeout=40)
        assert "No problems found" in pl.ok("system", "check")
        assert pl.ok("inspect", "-f", "{{.State.Status}}", cid).strip() == "created"
        pl.ok("start", cid)
        assert pl.inspect(cid)["State"]["Running"]
    pl.ok("rm", "-f", cid, timeout=40)  # used to wait forever for the lock the never-started init inherited
    assert not state.exists() and not (pl.runroot / "locks" / cid).exists()
    assert leftover_cgroups([cid]) == []
    assert pl.ok("ps", "-aq") == "" and "No problems found" in pl.ok("system", "check")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to stop the creator mid-create")
def test_check_repair_waits_for_a_creator_whose_start_was_killed(pl):
    """`start` SIGKILLed while its forked creator is inside the runtime's create (strace holds the creator at the
    clone of the init): `system check --repair` right then must not pull the runtime state from under it."""
    cid = pl.ok("create", *pl.image, "sleep", "100").strip()
    pl.seen.add(cid)
    state = pl.runroot / "runtimes" / "pallet" / cid
    tracer = subprocess.Popen(["strace", "-f", "-o", os.devnull, "-e", "trace=clone3",
                               "-e", "inject=clone3:delay_enter=3000000", *pl.argv("start", cid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: state.exists(), 20, "the creator to be inside create")
        [cli] = wait_for(lambda: [int(c) for c in open(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read().split()])
        os.kill(cli, signal.SIGKILL)
        pl.ok("system", "check", "--repair", timeout=60)
    finally:
        tracer.kill()
        tracer.wait()
    assert wait_for(lambda: not state.exists() and leftover_cgroups([cid]) == [], 20, "the creator to give up")
    assert "No problems found" in pl.ok("system", "check")
    pl.ok("start", cid)  # never started: still a startable "created" container
    pl.ok("rm", "-f", cid)
    assert pl.ok("ps", "-aq") == "" and leftover_cgroups([cid]) == []
    assert "No problems found" in pl.ok("system", "check")


@pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace to stop `rm -f` in its window")
def test_rm_killed_inside_the_runtime_delete(pl):
    """`rm -f` SIGKILLed after the runtime's delete emptied the state dir, before its rmdir (held there by
    strace): the state dir left has no state to load, and the next `rm -f` must still remove it."""
    cid = pl.run_d("--", "sleep", "100")
    state = pl.runroot / "runtimes" / "pallet" / cid
    tracer = subprocess.Popen(["strace", "-o", os.devnull, "-P", str(state), "-e", "trace=rmdir",
                               "-e", "inject=rmdir:delay_enter=30000000", *pl.argv("rm", "-f", cid)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: state.is_dir() and not os.listdir(state), 20, "rm -f to empty the state dir")
        [cli] = wait_for(lambda: [int(c) for c in open(f"/proc/{tracer.pid}/task/{tracer.pid}/children").read().split()])
        os.kill(cli, signal.SIGKILL)
    finally:
        tracer.kill()
        tracer.wait()
    assert state.is_dir()
    pl.ok("rm", "-f", cid)
    assert not state.exists() and leftover_cgroups([cid]) == []
    assert pl.ok("ps", "-aq") == "" and "No problems found" in pl.ok("system", "check")


def test_daemon_json(pl, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"bogus-key": 1}))
    pl.config = cfg
    r = pl("ps")
    assert r.returncode != 0 and "bogus-key" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    cfg.write_text(json.dumps({"default-ulimits": {"core": {"Name": "core", "Soft": 0, "Hard": 0}},
                               "default-runtime": "runc", "live-restore": True,
                               "log-opts": {"max-size": "1m", "max-file": "2"}}))
    out = pl.ok("run", "--rm", *pl.image, "grep", "core file", "/proc/self/limits")
    assert out.split()[4:6] == ["0", "0"]
    cid = pl.run_d("--", "true")
    data = pl.inspect(cid)
    assert data["HostConfig"]["Runtime"] == "runc"
    assert data["HostConfig"]["LogConfig"]["Config"]["max-file"] == "2"
    assert pl.ok("info", "-f", "{{.DefaultRuntime}}").strip() == "runc"
    cid = pl.run_d("--runtime", "pallet", "--", "true")
    assert pl.inspect(cid)["HostConfig"]["Runtime"] == "pallet"


def test_stats_info_df(pl):
    cid = pl.run_d("--name", "busy", "--memory", "64m", "--", "sh", "-c", "while true; do :; done")
    out = pl.ok("stats", "--no-stream", "--format", "{{.Name}} {{.MemPerc}} {{.PIDs}}")
    name, memperc, pids = out.split()
    assert name == "busy" and memperc.endswith("%") and pids == "1"
    rows = [json.loads(line) for line in pl.ok("stats", "--no-stream", "--format", "json").splitlines()]
    assert rows[0]["MemUsage"].endswith("/ 64MiB")
    info = json.loads(pl.ok("info", "-f", "{{json .}}"))
    assert info["ContainersRunning"] == 1 and info["CgroupVersion"] in ("1", "2")
    assert "name=seccomp,profile=builtin" in info["SecurityOptions"]
    assert "Containers" in pl.ok("system", "df")
    assert cid[:12] in pl.ok("system", "df", "-v")
    pl.ok("rm", "-f", cid)


def test_volumes_verbs(pl):
    assert pl.ok("volume", "create", "data1").strip() == "data1"
    r = pl("volume", "create", "bad/name")
    assert r.returncode != 0 and "invalid volume name" in r.stderr
    v = json.loads(pl.ok("volume", "inspect", "data1"))[0]
    assert v["Name"] == "data1" and v["Mountpoint"].endswith("/data1/_data")
    cid = pl.run_d("-v", "data1:/d", "--", "sleep", "100")
    r = pl("volume", "rm", "data1")
    assert r.returncode == 1 and "in use" in r.stderr
    pl.ok("rm", "-f", cid)
    pl.ok("run", "--rm", "-v", "/anon", *pl.image, "true")
    assert pl.ok("volume", "ls", "-q").split() == ["data1"]  # --rm removed the anonymous volume
    pl.ok("volume", "rm", "data1")
    assert pl.ok("volume", "ls", "-q") == ""


def test_system_prune(pl):
    pl.ok("create", "--name", "stopped1", *pl.image, "true")
    keep = pl.run_d("--", "sleep", "100")
    out = pl.ok("system", "prune", "-f")
    assert "Deleted Containers" in out
    assert pl.ok("ps", "-aq").split() == [keep[:12]]


def test_exit_code_is_255_when_the_monitor_died_with_the_container(pl):
    """Nobody reaped the container, so its status is lost: Docker reports 255 then (podman -1), and says why."""
    cid = pl.run_d("--", "sleep", "100")
    pid = int(pl.ok("inspect", "-f", "{{.State.Pid}}", cid))
    for m in monitor_pids(pl, cid):
        os.kill(m, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"))
    assert pl.ok("wait", cid).strip() == "255"
    state = pl.inspect(cid)["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 255)
    assert "monitor died" in state["Error"]
    assert "Exited (255)" in pl.ok("ps", "-a")
