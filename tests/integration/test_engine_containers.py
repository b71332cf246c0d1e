"""Containers end to end through the `pallet` command: run, lifecycle, limits the kernel enforces."""

from __future__ import annotations

import json
import os
import time

import pytest

from conftest import requires_root
from engine_image import pl  # noqa: F401 (a fixture)

pytestmark = [requires_root, pytest.mark.root]


def test_run_foreground_output_and_exit_code(pl):
    r = pl("run", "--rm", *pl.image, "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert r.stderr == "err\n"
    assert pl.ok("ps", "-aq") == ""  # --rm removed it


def test_command_not_found_is_127_and_not_executable_is_126(pl):
    r = pl("run", "--rm", *pl.image, "/nonexistent")
    assert r.returncode == 127, r.stderr
    assert "not found" in r.stderr or "no such file" in r.stderr.lower()
    r = pl("run", "--rm", *pl.image, "/etc/passwd")
    assert r.returncode == 126, r.stderr
    assert pl.ok("ps", "-aq") == ""


def test_bad_input_is_one_line_and_creates_nothing(pl, tmp_path):
    cases = [
        ["run", "--bogus-flag", *pl.image, "true"],
        ["run", "--name", "bad name!", *pl.image, "true"],
        ["run", "-v", f"{tmp_path}/missing:/x", *pl.image, "true"],
        ["run", "--ulimit", "nofile=99999999", *pl.image, "true"],
        ["run", "--cap-add", "NOT_A_CAP", *pl.image, "true"],
        ["run", "--memory", "lots", *pl.image, "true"],
        ["run", "nosuchimage:latest", "true"],
    ]
    for argv in cases:
        r = pl(*argv)
        assert r.returncode == 125, (argv, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)
    assert "import or load it first" in pl("run", "nosuchimage:latest", "true").stderr
    assert pl.ok("ps", "-aq") == ""
    assert not (pl.root / "containers").exists() or not os.listdir(pl.root / "containers")


def test_name_env_workdir_user_hostname_entrypoint(pl):
    out = pl.ok("run", "--rm", "--name", "named", "-e", "FOO=bar", "-w", "/tmp", "-u", "nobody", "-h", "myhost",
                "--entrypoint", "/bin/sh", *pl.image, "-c", 'echo $FOO $(pwd) $(id -u) $(hostname)')
    assert out == "bar /tmp 65534 myhost\n"


def test_detached_lifecycle_logs_inspect_exec_stop_rm(pl):
    cid = pl.run_d("--name", "web", "--", "sh", "-c", "echo started; trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done")
    assert len(cid) == 64
    ps = pl.ok("ps")
    assert "web" in ps and "Up" in ps
    pid = int(pl.ok("inspect", "-f", "{{.State.Pid}}", "web"))
    assert pid > 0 and os.path.exists(f"/proc/{pid}")
    for _ in range(50):
        if "started" in pl.ok("logs", "web"):
            break
        time.sleep(0.05)
    assert pl.ok("logs", "web") == "started\n"
    assert pl.ok("exec", "web", "cat", "/etc/hostname").strip() == cid[:12]
    assert pl("exec", "web", "sh", "-c", "exit 7").returncode == 7
    data = pl.inspect(cid[:8])
    assert data["Name"] == "/web" and data["State"]["Running"] is True
    assert data["Config"]["Cmd"][0] == "sh"
    assert pl.ok("stop", "web").strip() == "web"
    data = pl.inspect("web")
    assert data["State"]["Status"] == "exited" and data["State"]["ExitCode"] == 0
    assert "bye" in pl.ok("logs", "web")
    log = json.loads(open(data["LogPath"]).readline())
    assert log["log"] == "started\n" and log["stream"] == "stdout" and log["time"].endswith("Z")
    r = pl("pause", "web")
    assert r.returncode == 1 and "container web is stopped: cannot pause" in r.stderr
    assert pl.ok("start", "web").strip() == "web"
    assert pl.inspect("web")["State"]["Running"]
    r = pl("rm", "web")
    assert r.returncode == 1 and "running" in r.stderr
    pl.ok("rm", "-f", "web")
    assert pl.ok("ps", "-aq") == ""
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_kill_wait_and_ps_formats(pl):
    cid = pl.run_d("--", "sleep", "100")
    pl.ok("kill", "-s", "KILL", cid[:12])
    assert pl.ok("wait", cid[:12]).strip() == "137"
    assert pl.ok("ps", "-q") == ""
    assert pl.ok("ps", "-aq") == cid[:12] + "\n"
    assert pl.ok("ps", "-a", "--no-trunc", "-q") == cid + "\n"
    assert pl.ok("ps", "-a", "--format", "{{.ID}} {{.State}}") == f"{cid[:12]} exited\n"
    assert "Exited (137)" in pl.ok("ps", "-a")


def test_pause_unpause(pl):
    pl.run_d("--name", "pp", "--", "sleep", "100")
    pl.ok("pause", "pp")
    assert pl.inspect("pp")["State"]["Paused"] is True
    assert "(Paused)" in pl.ok("ps")
    r = pl("pause", "pp")
    assert r.returncode == 1 and "paused" in r.stderr
    pl.ok("unpause", "pp")
    assert pl.inspect("pp")["State"]["Status"] == "running"


def test_ambiguous_prefix_lists_candidates(pl):
    ids = [pl.ok("create", *pl.image, "true").strip() for _ in range(20)]
    by_first = {}
    for i in ids:
        by_first.setdefault(i[0], []).append(i)
    prefix, group = next((k, v) for k, v in by_first.items() if len(v) > 1)
    r = pl("inspect", prefix)
    assert r.returncode == 1 and "ambiguous" in r.stderr
    assert all(g[:12] in r.stderr for g in group)


def test_bind_mount_named_volume_and_read_only(pl, tmp_path):
    src = tmp_path / "data"
    src.mkdir()
    (src / "in.txt").write_text("hello\n")
    out = pl.ok("run", "--rm", "-v", f"{src}:/data", "-v", "vol1:/vol", *pl.image,
                "sh", "-c", "cat /data/in.txt; echo x > /data/out.txt; echo persisted > /vol/f")
    assert out == "hello\n" and (src / "out.txt").read_text() == "x\n"
    assert pl.ok("run", "--rm", "-v", "vol1:/vol:ro", *pl.image, "cat", "/vol/f") == "persisted\n"
    r = pl("run", "--rm", "-v", "vol1:/vol:ro", *pl.image, "sh", "-c", "echo y > /vol/f")
    assert r.returncode != 0 and "Read-only" in r.stderr
    r = pl("run", "--rm", "--read-only", *pl.image, "sh", "-c", "echo y > /etc/x")
    assert r.returncode != 0 and "Read-only" in r.stderr
    assert "vol1" in pl.ok("volume", "ls", "-q")


def test_limits_the_kernel_enforces(pl):
    out = pl.ok("run", "--rm", "--ulimit", "core=0", *pl.image, "cat", "/proc/self/limits")
    core = next(line for line in out.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]
    status = pl.ok("run", "--rm", "--cap-add", "SYS_TIME", *pl.image, "grep", "CapEff", "/proc/self/status")
    assert int(status.split()[1], 16) & (1 << 25)  # CAP_SYS_TIME
    status = pl.ok("run", "--rm", *pl.image, "grep", "CapEff", "/proc/self/status")
    assert not int(status.split()[1], 16) & (1 << 25)
    status = pl.ok("run", "--rm", "--cap-drop", "ALL", *pl.image, "grep", "CapEff", "/proc/self/status")
    assert int(status.split()[1], 16) == 0
    r = pl("run", "--rm", "--pids-limit", "10", *pl.image, "sh", "-c",
           "for i in $(seq 20); do sleep 30 & done; echo done")
    assert "can't fork" in r.stderr or "Resource temporarily unavailable" in r.stderr
    r = pl("run", "--name", "oom", "--memory", "16m", *pl.image, "sh", "-c",
           "dd if=/dev/zero of=/dev/null bs=64M count=1 && echo survived")
    assert r.returncode == 137 and "survived" not in r.stdout
    assert pl.inspect("oom")["State"]["OOMKilled"] is True
    out = pl.ok("run", "--rm", "--cpus", "0.5", *pl.image, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
    assert out.strip() == "50000"


def test_seccomp_default_and_unconfined(pl, tmp_path):
    # the seed's recipe: setting the clock needs CAP_SYS_TIME; with it the default profile allows clock_settime
    # (set to "now", so nothing changes), and a profile that denies the syscall blocks it again.
    r = pl("run", "--rm", *pl.image, "sh", "-c", "date -s \"$(date +'%Y-%m-%d %H:%M:%S')\"")
    assert "Operation not permitted" in r.stdout + r.stderr
    r = pl("run", "--rm", "--cap-add", "SYS_TIME", *pl.image, "sh", "-c", "date -s \"$(date +'%Y-%m-%d %H:%M:%S')\"")
    assert "can't set date" not in r.stdout + r.stderr
    profile = tmp_path / "deny-clock.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["clock_settime", "clock_settime64", "settimeofday"], "action": "SCMP_ACT_ERRNO"}],
    }))
    r = pl("run", "--rm", "--cap-add", "SYS_TIME", "--security-opt", f"seccomp={profile}", *pl.image,
           "sh", "-c", "date -s \"$(date +'%Y-%m-%d %H:%M:%S')\"")
    assert "Operation not permitted" in r.stdout + r.stderr
    out = pl.ok("run", "--rm", "--security-opt", "seccomp=unconfined", *pl.image, "grep", "Seccomp:", "/proc/self/status")
    assert out.split()[1] == "0"
    out = pl.ok("run", "--rm", *pl.image, "grep", "Seccomp:", "/proc/self/status")
    assert out.split()[1] == "2"
    out = pl.ok("run", "--rm", "--security-opt", "no-new-privileges", *pl.image, "grep", "NoNewPrivs", "/proc/self/status")
    assert out.split()[1] == "1"


def test_namespaces_host_and_container(pl):
    host_net = os.readlink("/proc/self/ns/net")
    assert pl.ok("run", "--rm", "--net", "host", *pl.image, "readlink", "/proc/self/ns/net").strip() == host_net
    assert pl.ok("run", "--rm", *pl.image, "readlink", "/proc/self/ns/net").strip() != host_net
    links = pl.ok("run", "--rm", *pl.image, "ls", "/sys/class/net")
    assert links.split() == ["lo"]
    host_pid = os.readlink("/proc/self/ns/pid")
    assert pl.ok("run", "--rm", "--pid", "host", *pl.image, "readlink", "/proc/self/ns/pid").strip() == host_pid
    assert pl.ok("run", "--rm", "--uts", "host", *pl.image, "hostname").strip() == os.uname().nodename
    cid = pl.run_d("--", "sleep", "100")
    pid = int(pl.ok("inspect", "-f", "{{.State.Pid}}", cid))
    net = os.readlink(f"/proc/{pid}/ns/net")
    assert pl.ok("run", "--rm", "--net", f"container:{cid[:12]}", *pl.image, "readlink", "/proc/self/ns/net").strip() == net


def test_privileged(pl):
    status = pl.ok("run", "--rm", "--privileged", *pl.image, "grep", "CapEff", "/proc/self/status")
    assert int(status.split()[1], 16) >= (1 << 38) - 1


def test_rootfs_dir_instead_of_image(pl, busybox_template):
    out = pl.ok("run", "--rm", "--rootfs", str(busybox_template), "sh", "-c", "echo from-dir")
    assert out == "from-dir\n"


def test_overlay_rootfs_and_graphdriver(pl):
    cid = pl.run_d("--", "sh", "-c", "echo data > /root/f; sleep 100")
    data = pl.inspect(cid)
    gd = data["GraphDriver"]
    assert gd["Name"] == "overlay2"
    assert os.path.ismount(gd["Data"]["MergedDir"])
    for _ in range(50):
        if os.path.exists(os.path.join(gd["Data"]["UpperDir"], "root", "f")):
            break
        time.sleep(0.05)
    assert open(os.path.join(gd["Data"]["UpperDir"], "root", "f")).read() == "data\n"
    assert data["Image"].startswith("sha256:")
    pl.ok("rm", "-f", cid)
    assert not os.path.exists(gd["Data"]["UpperDir"])
    assert not os.path.exists(gd["Data"]["MergedDir"])


@pytest.mark.parametrize("runtime", ["runc", "pallet"])
def test_both_runtimes_full_lifecycle(pl, runtime):
    out = pl.ok("run", "--rm", "--runtime", runtime, *pl.image, "sh", "-c", "echo fg-$(hostname | wc -c)")
    assert out == "fg-13\n"
    cid = pl.run_d("--runtime", runtime, "--name", f"rt-{runtime}", "--", "sh", "-c", "echo up; sleep 100")
    assert pl.inspect(cid)["HostConfig"]["Runtime"] == runtime
    assert pl.ok("exec", cid, "echo", "exec-ok") == "exec-ok\n"
    pl.ok("pause", cid)
    pl.ok("unpause", cid)
    pl.ok("stop", "-t", "1", cid)
    assert pl.ok("logs", cid) == "up\n"
    assert pl.inspect(cid)["State"]["ExitCode"] == 137
    pl.ok("rm", cid)


def test_ps_filters_and_container_group(pl):
    a = pl.run_d("--name", "fa", "--label", "tier=web", "--", "sleep", "100")
    b = pl.ok("create", "--name", "fb", *pl.image, "true").strip()
    assert pl.ok("ps", "-q", "--filter", "label=tier=web") == a[:12] + "\n"
    assert pl.ok("ps", "-aq", "--filter", "status=created") == b[:12] + "\n"
    assert pl.ok("ps", "-aq", "--filter", "name=fb") == b[:12] + "\n"
    assert sorted(pl.ok("container", "ls", "-aq").split()) == sorted([a[:12], b[:12]])
    assert pl.ok("container", "inspect", "-f", "{{.Name}}", "fa") == "/fa\n"
    assert pl("container", "bogus").returncode == 125


def test_port_with_no_published_ports(pl):
    """Docker's `port` for a container that publishes nothing: no output; a PORT asked for is an error."""
    pl.ok("create", "--name", "noports", *pl.image, "true")
    r = pl("port", "noports")
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    r = pl("port", "noports", "80")
    assert r.returncode == 1 and r.stderr == "Error: No public port '80/tcp' published for noports\n"
    r = pl("port", "noports", "53/udp")
    assert r.returncode == 1 and "'53/udp'" in r.stderr
    r = pl("port", "noports", "http")
    assert r.returncode == 1 and "invalid port 'http'" in r.stderr
    assert pl("port", "nosuch").returncode == 1
