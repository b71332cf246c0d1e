"""Three engine gaps, end to end: POSIX shm shared through `--ipc shareable` / `container:ID` (a host-side
/dev/shm that every teardown unmounts), `update` refusing what `create` refuses (nothing changes), and `start`
of a runc container whose `run -d` died between the runtime's create and start."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest

from conftest import requires_root
from engine_helpers import leftover_cgroups, leftover_mounts, monitor_pids
from engine_image import one_error_line, pl, run_d_killed_in_create, slowed_runc, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]

RUNC = shutil.which("runc")
CG = "/sys/fs/cgroup"
MiB = 1 << 20


def shm_dir(pl, cid: str) -> str:
    return os.path.join(pl.root, "containers", cid, "mounts", "shm")


def ids(pl) -> set[str]:
    return set(pl.ok("ps", "-aq", "--no-trunc").split())


# ---------------------------------------------------------------- --ipc shareable / container:ID and /dev/shm


@pytest.mark.parametrize("runtime", ["pallet", pytest.param("runc", marks=pytest.mark.skipif(RUNC is None, reason="needs runc"))])
def test_a_joiner_sees_the_shareable_donors_dev_shm(pl, runtime):
    donor = pl.run_d("--runtime", runtime, "--ipc", "shareable", "--shm-size", "2m", "--name", "donor", "--",
                     "sleep", "100")
    host = shm_dir(pl, donor)
    assert os.path.ismount(host)
    st = os.statvfs(host)
    assert st.f_blocks * st.f_frsize == 2 * MiB  # --shm-size sizes the host-side tmpfs
    pl.ok("exec", "donor", "sh", "-c", "echo from-donor > /dev/shm/d")
    donor_ipc = os.readlink(f"/proc/{pl.inspect(donor)['State']['Pid']}/ns/ipc")
    out = pl.ok("run", "--rm", "--runtime", runtime, "--ipc", "container:donor", *pl.image,
                "sh", "-c", "readlink /proc/self/ns/ipc; cat /dev/shm/d; echo from-joiner > /dev/shm/j")
    assert out.split() == [donor_ipc, "from-donor"]
    assert pl.ok("exec", "donor", "cat", "/dev/shm/j") == "from-joiner\n"  # the joiner's file, in the donor
    assert open(os.path.join(host, "j")).read() == "from-joiner\n"
    # a joiner of a joiner uses the same /dev/shm
    pl.run_d("--runtime", runtime, "--ipc", "container:donor", "--name", "j1", "--", "sleep", "100")
    assert pl.ok("run", "--rm", "--ipc", "container:j1", *pl.image, "cat", "/dev/shm/j") == "from-joiner\n"
    pl.ok("stop", "-t", "0", "donor")
    assert wait_for(lambda: not os.path.ismount(host), 20, "the donor's /dev/shm to be unmounted after stop")
    pl.ok("rm", "-f", "j1", "donor")
    assert leftover_mounts(pl.root) == []


def test_a_restarted_shareable_container_gets_its_dev_shm_again(pl):
    cid = pl.run_d("--ipc", "shareable", "--name", "shr", "--", "sleep", "100")
    pl.ok("restart", "-t", "0", "shr")
    assert os.path.ismount(shm_dir(pl, cid))
    assert pl.ok("run", "--rm", "--ipc", "container:shr", *pl.image, "sh", "-c", "echo x > /dev/shm/x && echo ok") == "ok\n"
    pl.ok("rm", "-f", "shr")
    assert leftover_mounts(pl.root) == []


def test_joining_a_private_or_non_running_container_is_refused(pl):
    pl.run_d("--name", "priv", "--", "sleep", "100")  # the default: private, as Docker >= 20.10
    pl.run_d("--name", "noipc", "--ipc", "none", "--", "sleep", "100")
    pl.ok("create", "--name", "idle", "--ipc", "shareable", *pl.image, "sleep", "100")
    before = ids(pl)
    for verb in (["run", "--rm"], ["run", "-d"], ["create"]):
        for donor, says in (("priv", "container priv: non-shareable IPC"), ("noipc", "container noipc: non-shareable IPC"),
                            ("idle", "cannot join IPC of a non running container: idle is created")):
            r = pl(*verb, "--ipc", f"container:{donor}", *pl.image, "true")
            assert r.returncode == 125 and one_error_line(r).startswith(f"Error: {says}"), (verb, donor, r.stderr)
    assert ids(pl) == before  # nothing created
    assert not os.path.ismount(shm_dir(pl, pl.ok("inspect", "-f", "{{.Id}}", "idle").strip()))
    assert pl.ok("inspect", "-f", "{{.HostConfig.IpcMode}}", "priv") == "private\n"
    # a joiner created while its donor ran does not start once the donor is gone
    pl.ok("start", "idle")
    pl.ok("create", "--name", "late", "--ipc", "container:idle", *pl.image, "true")
    pl.ok("stop", "-t", "0", "idle")
    r = pl("start", "late")
    assert r.returncode != 0 and "cannot join IPC of a non running container: idle is exited" in one_error_line(r)
    assert pl.ok("inspect", "-f", "{{.State.Status}}", "late") == "created\n"
    pl.remove_all()
    assert leftover_mounts(pl.root) == []


def test_default_ipc_mode_from_daemon_json(pl, tmp_path):
    assert "Default IPC Mode: private\n" in pl.ok("info")
    cfg = tmp_path / "daemon.json"
    cfg.write_text(json.dumps({"default-ipc-mode": "shareable"}))
    pl.config = cfg
    assert "Default IPC Mode: shareable\n" in pl.ok("info")
    assert pl.ok("info", "-f", "{{.DefaultIpcMode}}") == "shareable\n"
    cid = pl.run_d("--name", "dflt", "--", "sleep", "100")
    assert pl.ok("inspect", "-f", "{{.HostConfig.IpcMode}}", "dflt") == "shareable\n" and os.path.ismount(shm_dir(pl, cid))
    assert pl.ok("run", "--rm", "--ipc", "container:dflt", *pl.image, "true") == ""
    p = pl.run_d("--ipc", "private", "--name", "prv", "--", "sleep", "100")  # the flag still wins
    assert not os.path.exists(shm_dir(pl, p))
    cfg.write_text(json.dumps({"default-ipc-mode": "host"}))
    r = pl("ps")
    assert r.returncode == 125 and "default-ipc-mode 'host' is not valid" in one_error_line(r)
    pl.config = None
    pl.ok("rm", "-f", "dflt", "prv")
    assert leftover_mounts(pl.root) == []


def _kill_monitor_and_container(pl, cid: str) -> None:
    pid = pl.inspect(cid)["State"]["Pid"]
    for m in monitor_pids(pl, cid):
        os.kill(m, signal.SIGKILL)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z",
             10, "the container's init to die")


def test_rm_f_with_a_dead_monitor_unmounts_dev_shm(pl):
    cid = pl.run_d("--ipc", "shareable", "--", "sleep", "100")
    for m in monitor_pids(pl, cid):
        os.kill(m, signal.SIGKILL)
    pl.ok("rm", "-f", cid)
    assert leftover_mounts(pl.root) == [] and not os.path.exists(shm_dir(pl, cid))


@pytest.mark.parametrize("image", ["busybox", "rootfs"])
def test_system_check_repair_unmounts_a_dead_containers_dev_shm(pl, busybox_template, image):
    if image == "rootfs":  # no rootfs mount: only /dev/shm is left mounted
        pl.image = ["--rootfs", str(busybox_template)]
    cid = pl.run_d("--ipc", "shareable", "--", "sleep", "100")
    _kill_monitor_and_container(pl, cid)
    pl.ok("ps", "-a")  # folds the exit in: "exited", and nobody ran the cleanup
    assert os.path.ismount(shm_dir(pl, cid))
    r = pl("system", "check")
    what = "rootfs" if image == "busybox" else "/dev/shm"  # the rootfs' repair unmounts all the container's mounts
    assert r.returncode == 1 and f"container {cid[:12]}: {what} still mounted while exited" in r.stdout, r.stdout
    pl.ok("system", "check", "--repair")
    assert leftover_mounts(pl.root) == [] and "No problems found" in pl.ok("system", "check")
    pl.ok("start", cid)  # and it starts again, with its /dev/shm
    assert os.path.ismount(shm_dir(pl, cid))
    pl.ok("rm", "-f", cid)
    assert leftover_mounts(pl.root) == []


# ---------------------------------------------------------------- update refuses what create refuses


def cg(kind: str, cid: str, name: str) -> str:
    with open(f"{CG}/{kind}/pallet/{cid}/{name}") as f:
        return f.read().strip()


BAD_UPDATES = [  # (flags, what the one line names)
    (["-m", "300m"], "--memory-swap"),  # above the --memory-swap already set
    (["--memory-swap", "50m"], "--memory-swap"),  # below the --memory already set
    (["-m", "1m"], "minimum memory limit allowed is 6MB"),
    (["--cpus", "1"], "--cpus and --cpu-period"),  # --cpu-period set at create
    (["--cpus", "0.001"], "range of CPUs"),
    (["--cpus", "nan"], "invalid --cpus"),
    (["--pids-limit", "-5"], "--pids-limit"),
    (["--cpu-shares", "-2"], "--cpu-shares"),
]


def test_update_refuses_what_create_refuses_and_changes_nothing(pl):
    cid = pl.run_d("-m", "100m", "--memory-swap", "200m", "--cpu-period", "50000", "--pids-limit", "40",
                   "--name", "upd", "--", "sleep", "100")
    idle = pl.ok("create", "-m", "100m", "--memory-swap", "200m", "--cpu-period", "50000", *pl.image, "true").strip()

    def state():
        files = {(k, n): cg(k, cid, n) for k, n in (("memory", "memory.limit_in_bytes"), ("pids", "pids.max"),
                                                    ("cpu", "cpu.cfs_quota_us"), ("cpu", "cpu.shares"))}
        if os.path.exists(f"{CG}/memory/pallet/{cid}/memory.memsw.limit_in_bytes"):
            files["memsw"] = cg("memory", cid, "memory.memsw.limit_in_bytes")
        return files, [pl.inspect(c)["HostConfig"] for c in (cid, idle)]

    before = state()
    assert before[0][("memory", "memory.limit_in_bytes")] == str(100 * MiB)
    for flags, says in BAD_UPDATES:
        for ref in ("upd", idle):
            r = pl("update", *flags, ref)
            assert r.returncode == 125 and says in one_error_line(r), (flags, r.stderr)
        assert state() == before, flags
    # a value create would take goes through, live
    assert pl.ok("update", "-m", "150m", "--pids-limit", "50", "upd") == "upd\n"
    assert cg("memory", cid, "memory.limit_in_bytes") == str(150 * MiB) and cg("pids", cid, "pids.max") == "50"
    assert pl.inspect(cid)["HostConfig"]["Memory"] == 150 * MiB


# ---------------------------------------------------------------- runc: start after a run -d killed between create and start


@pytest.fixture(params=["before", "after"])
def paused_runc(request, pl, tmp_path):
    """runc paused before or after `runc create`: a window to kill `run -d` in (engine_image.slowed_runc)."""
    return slowed_runc(pl, tmp_path, RUNC, request.param)


@pytest.mark.skipif(RUNC is None, reason="needs runc")
def test_start_after_a_run_d_killed_between_create_and_start(pl, paused_runc):
    cid = run_d_killed_in_create(pl, paused_runc)
    state = [RUNC, "--root", str(pl.runroot / "runtimes" / "slowrunc"), "state", cid]
    # the monitor finishes the create: runc holds a "created" container whose init waits for a start
    assert wait_for(lambda: subprocess.run(state, capture_output=True, text=True).stdout.count('"created"'), 20,
                    "the monitor's create to finish")
    assert pl.ok("inspect", "-f", "{{.State.Status}}", "racer") == "created\n"
    pl.ok("start", "racer", timeout=60)  # deletes the stale runc container under the lock, creates it again
    st = pl.inspect(cid)["State"]
    assert st["Running"] and st["Status"] == "running"
    assert json.loads(subprocess.run(state, capture_output=True, text=True, check=True).stdout)["pid"] == st["Pid"]
    assert len(monitor_pids(pl, cid)) == 1  # the stale one is gone: it can't fold a false exit into this run
    assert pl.ok("exec", "racer", "echo", "in") == "in\n"
    pl.ok("stop", "-t", "0", "racer")
    assert pl.inspect(cid)["State"]["ExitCode"] == 137
    pl.ok("start", "racer", timeout=60)  # and again, from exited
    assert pl.inspect(cid)["State"]["Running"]
    pl.ok("rm", "-f", "racer")
    assert wait_for(lambda: monitor_pids(pl, cid) == [], 20, "the monitor to exit")
    assert leftover_cgroups([cid]) == [] and leftover_mounts(pl.root) == []
    assert not (pl.runroot / "runtimes" / "slowrunc" / cid).exists()
    assert "No problems found" in pl.ok("system", "check")
