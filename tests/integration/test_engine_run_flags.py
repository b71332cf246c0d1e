"""`pallet run` / `create` flags end to end: each flag's effect as the kernel shows it inside the container,
and each bad value refused at create in one line with exit 125, leaving nothing behind."""

from __future__ import annotations

import os

import pytest

from conftest import requires_root
from engine_helpers import leftover_mounts
from engine_image import one_error_line, pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]

CG = "/sys/fs/cgroup"


def lines_with(text: str, word: str) -> list[str]:
    return [ln for ln in text.splitlines() if word in ln]


def mount_line(pl, *flags: str, path: str) -> str:
    """The container's /proc/self/mountinfo line for `path` (mount point in field 5)."""
    out = pl.ok("run", "--rm", *flags, *pl.image, "cat", "/proc/self/mountinfo")
    [line] = [ln for ln in out.splitlines() if ln.split()[4] == path]
    return line


def assert_nothing_left(pl) -> None:
    assert pl.ok("ps", "-aq") == ""
    for d in (pl.root / "containers", pl.root / "overlay" / "active", pl.runroot / "containers"):
        assert not d.exists() or os.listdir(d) == [], (d, os.listdir(d))
    assert pl.ok("volume", "ls", "-q") == ""
    assert leftover_mounts(pl.root) == []


# ---------------------------------------------------------------- process: env, user, workdir


def test_env_file_env_passthrough_user_and_group_add(pl, tmp_path, monkeypatch):
    envf = tmp_path / "env"
    envf.write_text("A=1\n# a comment\n\nFROM_HOST\nC=x y\n")
    monkeypatch.setenv("FROM_HOST", "h")
    monkeypatch.setenv("PASSED", "p")
    out = pl.ok("run", "--rm", "--env-file", str(envf), "-e", "PASSED", "-e", "A=2", *pl.image,
                "sh", "-c", 'echo "$A|$FROM_HOST|$C|$PASSED"')
    assert out == "2|h|x y|p\n"  # -e wins over --env-file, as Docker
    out = pl.ok("run", "--rm", "-u", "1000:1001", "--group-add", "10", "--group-add", "nogroup", *pl.image,
                "sh", "-c", "id -u; id -g; id -G")
    assert out.split() == ["1000", "1001", "1001", "10", "65534"]


def test_env_name_unset_on_the_host_is_unset_in_the_container(pl, tmp_path, monkeypatch):
    monkeypatch.delenv("PALLET_UNSET_VAR", raising=False)
    envf = tmp_path / "env"
    envf.write_text("PALLET_UNSET_VAR\n")
    for flags in (["-e", "PALLET_UNSET_VAR"], ["--env-file", str(envf)]):
        out = pl.ok("run", "--rm", *flags, *pl.image, "sh", "-c", 'echo "${PALLET_UNSET_VAR-unset}"')
        assert out == "unset\n", flags


def test_workdir_missing_in_the_image_is_created(pl):
    assert pl.ok("run", "--rm", "-w", "/new/dir", *pl.image, "pwd") == "/new/dir\n"
    assert pl.ok("run", "--rm", "--read-only", "-w", "/other/dir", *pl.image, "pwd") == "/other/dir\n"


# ---------------------------------------------------------------- mounts


def test_mount_flag_bind_volume_tmpfs(pl, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("in\n")
    line = mount_line(pl, "--mount", f"type=bind,source={src},target=/m,readonly", path="/m")
    assert line.split()[5].startswith("ro")
    out = pl.ok("run", "--rm", "--mount", f"type=bind,src={src},dst=/m", *pl.image, "sh", "-c", "cat /m/f; echo w > /m/g")
    assert out == "in\n" and (src / "g").read_text() == "w\n"
    pl.ok("run", "--rm", "--mount", "type=volume,source=mvol,target=/v", *pl.image, "sh", "-c", "echo kept > /v/f")
    assert pl.ok("run", "--rm", "--mount", "type=volume,source=mvol,target=/v", *pl.image, "cat", "/v/f") == "kept\n"
    line = mount_line(pl, "--mount", "type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770", path="/t")
    assert " - tmpfs " in line and "size=1024k" in line and "mode=1770" in line
    pl.ok("volume", "rm", "mvol")


@pytest.mark.parametrize("runtime", ["pallet", "runc"])
def test_bind_propagation_reaches_the_mount(pl, tmp_path, runtime):
    src = tmp_path / "src"
    src.mkdir()
    for flag in ("-v", f"{src}:/m:rshared"), ("--mount", f"type=bind,src={src},dst=/m,bind-propagation=rshared"):
        optional = mount_line(pl, "--runtime", runtime, *flag, path="/m").split(" - ")[0].split()[6:]
        assert any(f.startswith("shared:") for f in optional), (flag, optional)
    optional = mount_line(pl, "--runtime", runtime, "-v", f"{src}:/m", path="/m").split(" - ")[0].split()[6:]
    assert optional == []  # rprivate by default, as Docker


def test_tmpfs_flag_options(pl):
    line = mount_line(pl, "--tmpfs", "/t", path="/t")
    assert " - tmpfs " in line and "noexec" in line.split()[5] and "nosuid" in line.split()[5]
    line = mount_line(pl, "--tmpfs", "/t:rw,size=2m,mode=700,exec", path="/t")
    assert "noexec" not in line.split()[5] and "size=2048k" in line and "mode=700" in line
    r = pl("run", "--rm", "--read-only", "--tmpfs", "/tmp", *pl.image, "sh", "-c", "touch /tmp/x && touch /x")
    assert r.returncode == 1 and "/x: Read-only file system" in r.stderr and "/tmp/x" not in r.stderr


def test_named_volume_starts_as_a_copy_of_the_image_unless_nocopy(pl):
    # Docker's copy-up: a new, empty volume over /etc gets the image's /etc (passwd, group)
    out = pl.ok("run", "--rm", "-v", "etcvol:/etc", *pl.image, "cat", "/etc/passwd")
    assert out.startswith("root:x:0:0:")
    assert "passwd" in os.listdir(pl.root / "volumes" / "etcvol" / "_data")
    r = pl("run", "--rm", "-v", "bare:/etc:nocopy", *pl.image, "cat", "/etc/passwd")
    assert r.returncode == 1 and "No such file" in r.stderr
    r = pl("run", "--rm", "--mount", "type=volume,src=bare2,dst=/etc,volume-nocopy", *pl.image, "cat", "/etc/passwd")
    assert r.returncode == 1
    pl.ok("volume", "rm", "etcvol", "bare", "bare2")


# ---------------------------------------------------------------- cgroup limits


def test_memory_flags_reach_the_memory_cgroup(pl):
    m = f"{CG}/memory"
    if not os.path.exists(f"{m}/pallet") and not os.path.isdir(m):
        pytest.skip("no v1 memory hierarchy")
    out = pl.ok("run", "--rm", "-m", "64m", "--memory-swap", "128m", "--memory-swappiness", "10",
                "--memory-reservation", "32m", *pl.image, "sh", "-c",
                f"cat {m}/memory.limit_in_bytes {m}/memory.swappiness {m}/memory.soft_limit_in_bytes; "
                f"cat {m}/memory.memsw.limit_in_bytes 2>/dev/null || echo no-memsw")
    limit, swappiness, soft, memsw = out.split()
    assert (int(limit), int(swappiness), int(soft)) == (64 << 20, 10, 32 << 20)
    assert memsw in ("no-memsw", str(128 << 20))
    out = pl.ok("run", "--rm", "-m", "64m", "--oom-kill-disable", *pl.image, "cat", f"{m}/memory.oom_control")
    assert "oom_kill_disable 1" in out


def test_cpu_flags_reach_the_cpu_cgroups(pl):
    c = f"{CG}/cpu"
    out = pl.ok("run", "--rm", "--cpu-shares", "512", "--cpu-quota", "20000", "--cpu-period", "50000", *pl.image,
                "cat", f"{c}/cpu.shares", f"{c}/cpu.cfs_quota_us", f"{c}/cpu.cfs_period_us")
    assert out.split() == ["512", "20000", "50000"]
    out = pl.ok("run", "--rm", "--cpuset-cpus", "0", *pl.image, "grep", "Cpus_allowed_list", "/proc/self/status")
    assert out.split()[1] == "0"
    # below the kernel's minimum: adjusted with a warning, as Docker
    r = pl("run", "--rm", "--cpu-shares", "1", *pl.image, "cat", f"{c}/cpu.shares")
    assert r.returncode == 0 and r.stdout == "2\n" and "WARNING" in r.stderr and "--cpu-shares" in r.stderr


def test_blkio_weight(pl):
    b = f"{CG}/blkio"  # a child cgroup has blkio.weight, or blkio.bfq.weight under BFQ (the root has neither)
    out = pl.ok("run", "--rm", "--blkio-weight", "300", *pl.image, "sh", "-c",
                f"cat {b}/blkio.weight 2>/dev/null || cat {b}/blkio.bfq.weight 2>/dev/null || echo none")
    if out.strip() == "none":
        pytest.skip("this kernel's blkio hierarchy has no weight file")
    assert out.split()[-1] == "300"


def test_ulimits_nofile_and_nproc(pl):
    out = pl.ok("run", "--rm", "--ulimit", "nofile=1000:2000", "--ulimit", "nproc=50", *pl.image, "cat", "/proc/self/limits")
    assert lines_with(out, "Max open files")[0].split()[3:5] == ["1000", "2000"]
    assert lines_with(out, "Max processes")[0].split()[2:4] == ["50", "50"]


# ---------------------------------------------------------------- kernel settings and namespaces


@pytest.fixture
def host_sysctls(cleanup):
    """The host values the refused sysctls would have changed: restored whatever happens, then compared."""
    keys = ("vm/swappiness", "net/ipv4/ip_forward", "kernel/msgmax")
    before = {k: open(f"/proc/sys/{k}").read() for k in keys}

    def restore():
        for k, v in before.items():
            if open(f"/proc/sys/{k}").read() != v:
                with open(f"/proc/sys/{k}", "w") as f:
                    f.write(v)

    cleanup.add(restore)
    return before


def test_sysctls_apply_inside_the_container_namespaces_only(pl, host_sysctls):
    out = pl.ok("run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.msgmax=9999", *pl.image,
                "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/msgmax")
    assert out.split() == ["1", "9999"]
    for argv in (["--sysctl", "vm.swappiness=1"], ["--net", "host", "--sysctl", "net.ipv4.ip_forward=1"],
                 ["--ipc", "host", "--sysctl", "kernel.msgmax=1"], ["--sysctl", "kernel.hostname=x"]):
        r = pl("run", *argv, *pl.image, "true")
        assert r.returncode == 125 and "sysctl" in one_error_line(r), (argv, r.stderr)
    assert {k: open(f"/proc/sys/{k}").read() for k in host_sysctls} == host_sysctls
    assert_nothing_left(pl)


def test_shm_size_and_ipc_modes(pl, cleanup):
    assert "size=1024k" in mount_line(pl, "--shm-size", "1m", path="/dev/shm")
    r = pl("run", "--rm", "--ipc", "none", *pl.image, "ls", "/dev/shm")
    assert r.returncode == 1  # an IPC namespace without /dev/shm, as Docker's "none"
    host_ipc = os.readlink("/proc/self/ns/ipc")
    name = f"pallet-test-{os.getpid()}"
    cleanup.add(lambda: os.path.exists(f"/dev/shm/{name}") and os.unlink(f"/dev/shm/{name}"))
    out = pl.ok("run", "--rm", "--ipc", "host", *pl.image, "sh", "-c", f"readlink /proc/self/ns/ipc; echo x > /dev/shm/{name}")
    assert out.strip() == host_ipc and open(f"/dev/shm/{name}").read() == "x\n"  # the host's /dev/shm too
    cid = pl.run_d("--ipc", "shareable", "--", "sleep", "100")
    pid = pl.ok("inspect", "-f", "{{.State.Pid}}", cid).strip()
    mine = os.readlink(f"/proc/{pid}/ns/ipc")
    assert mine != host_ipc
    assert pl.ok("run", "--rm", "--ipc", f"container:{cid[:12]}", *pl.image, "readlink", "/proc/self/ns/ipc").strip() == mine
    out = pl.ok("run", "--rm", "--pid", f"container:{cid[:12]}", *pl.image, "ps", "-o", "comm")
    assert "sleep" in out.split()


def test_init_is_pid_1_and_reaps_orphans(pl):
    from pallet.engine.spec_plan import _init_binary
    from pallet.errors import NotFound

    try:
        _init_binary()
    except NotFound:
        pytest.skip("no tini or catatonit on this host")
    out = pl.ok("run", "--rm", "--init", *pl.image, "sh", "-c",
                "(sleep 0.2 &); sleep 1; cat /proc/1/cmdline | tr '\\0' ' '; echo; ps -o stat,comm")
    first, *procs = out.splitlines()
    assert first.startswith("/dev/init -- sh")
    assert not any(p.split()[0].startswith("Z") for p in procs[1:]), out  # the orphaned sleep was reaped
    assert pl("run", "--rm", "--init", *pl.image, "sh", "-c", "exit 3").returncode == 3


def test_stop_signal_and_stop_timeout(pl):
    pl.run_d("--name", "usr1", "--stop-signal", "USR1", "--", "sh", "-c",
             "trap 'echo got-usr1; exit 5' USR1; echo up; while true; do sleep 0.1; done")
    wait_for(lambda: "up" in pl.ok("logs", "usr1"), what="the trap to be set")
    pl.ok("stop", "usr1")
    assert pl.ok("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopSignal}}", "usr1").split() == ["5", "USR1"]
    assert "got-usr1" in pl.ok("logs", "usr1")
    pl.run_d("--name", "deaf", "--stop-timeout", "1", "--", "sh", "-c", "trap '' TERM; echo up; while true; do sleep 0.1; done")
    wait_for(lambda: "up" in pl.ok("logs", "deaf"), what="the trap to be set")
    pl.ok("stop", "deaf")  # TERM ignored: killed once the container's own 1 s timeout passed
    assert pl.ok("inspect", "-f", "{{.State.ExitCode}} {{.Config.StopTimeout}}", "deaf").split() == ["137", "1"]


def test_restart_always_until_stopped(pl):
    cid = pl.run_d("--restart", "always", "--", "sh", "-c", "echo run; exit 0")
    wait_for(lambda: int(pl.ok("inspect", "-f", "{{.RestartCount}}", cid)) >= 2, 20, "two restarts")
    assert pl.ok("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", cid).strip() == "always"
    pl.ok("stop", cid)
    assert pl.ok("inspect", "-f", "{{.State.Status}}", cid).strip() == "exited"


def test_privileged_sees_the_host_devices(pl):
    host = sorted(n for n in ("kmsg", "loop-control", "full", "fuse") if os.path.exists(f"/dev/{n}"))
    out = pl.ok("run", "--rm", "--privileged", *pl.image, "sh", "-c", "ls /dev; readlink /dev/ptmx")
    assert set(host) <= set(out.split()) and "pts/ptmx" in out.split()
    out = pl.ok("run", "--rm", *pl.image, "ls", "/dev")
    assert "kmsg" not in out.split()


def test_cap_add_the_host_cannot_grant_warns(pl):
    with open("/proc/self/status") as f:
        bnd = int(next(ln for ln in f if ln.startswith("CapBnd:")).split()[1], 16)
    if bnd >> 24 & 1:
        pytest.skip("this host can grant CAP_SYS_RESOURCE")
    r = pl("run", "--rm", "--cap-add", "SYS_RESOURCE", *pl.image, "grep", "CapEff", "/proc/self/status")
    assert r.returncode == 0 and not int(r.stdout.split()[1], 16) >> 24 & 1
    assert "WARNING" in r.stderr and "SYS_RESOURCE" in r.stderr


def test_security_opt_label_is_accepted_with_a_warning(pl):
    r = pl("run", "--rm", "--security-opt", "label=disable", "--security-opt", "label=type:spc_t", *pl.image, "true")
    assert r.returncode == 0 and r.stderr.count("WARNING") == 2 and "SELinux" in r.stderr


# ---------------------------------------------------------------- bad values: one line, 125, nothing left


BAD = [
    (["-e", "=x"], "environment variable"),
    (["-w", "relative"], "--workdir"),
    (["--cpus", "0.001"], "--cpus"),
    (["--cpus", "1", "--cpu-quota", "50000"], "--cpu-quota"),
    (["--cpus", "1", "--cpu-period", "50000"], "--cpu-period"),
    (["--cpu-quota", "500"], "--cpu-quota"),
    (["--cpu-period", "500"], "--cpu-period"),
    (["--cpuset-cpus", "99"], "--cpuset-cpus"),
    (["--cpuset-cpus", "x"], "--cpuset-cpus"),
    (["--cpuset-mems", "9"], "--cpuset-mems"),
    (["--memory-swap", "128m"], "--memory-swap"),
    (["-m", "64m", "--memory-swap", "32m"], "--memory-swap"),
    (["-m", "32m", "--memory-reservation", "64m"], "--memory-reservation"),
    (["--memory-swappiness", "101"], "--memory-swappiness"),
    (["-m", "1m"], "--memory"),
    (["--blkio-weight", "5"], "--blkio-weight"),
    (["--pids-limit", "-5"], "--pids-limit"),
    (["--tmpfs", "/t:bogus"], "tmpfs option"),
    (["-v", "/tmp:/"], "destination"),
    (["-v", "/tmp:/d:ro,rw"], "volume specification"),
    (["-v", "bad!name:/d"], "volume name"),
    (["--mount", "type=bind,source=/tmp,target=/m,bind-propagation=sideways"], "bind-propagation"),
    (["--stop-signal", "BOGUS"], "--stop-signal"),
    (["--restart", "on-failure:-1"], "restart"),
    (["--restart", "sometimes"], "restart"),
    (["--rm", "--restart", "always"], "--restart and --rm"),
    (["--net", "container:"], "--net"),
    (["--net", "bogus"], "--net"),
    (["--uts", "host", "-h", "x"], "--hostname"),
    (["--security-opt", "label=nonsense"], "--security-opt"),
    (["--security-opt", "seccomp=/nonexistent.json"], "seccomp"),
    (["--sysctl", "noequals"], "--sysctl"),
    (["--ulimit", "nofile=3:2"], "ulimit"),
    (["--device", "/dev/null:/dev/n:rwx"], "--device"),
    (["--runtime", "nosuch"], "runtime"),
    (["--storage-opt", "size=10m"], "--storage-opt"),
    (["--storage-opt", "weird=1"], "--storage-opt"),
]


@pytest.mark.parametrize("argv, word", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_value_is_one_line_125_and_creates_nothing(pl, argv, word):
    for verb in ("create", "run"):
        r = pl(verb, *argv, *pl.image, "true")
        assert r.returncode == 125, (verb, r.stdout, r.stderr)
        line = one_error_line(r)
        assert line.startswith("Error: ") and word in line, line
    assert_nothing_left(pl)


def test_hostname_with_a_shared_uts_namespace_conflicts(pl):
    cid = pl.run_d("--", "sleep", "100")
    r = pl("run", "--net", f"container:{cid[:12]}", "-h", "x", *pl.image, "true")
    assert r.returncode == 125 and "--hostname" in one_error_line(r)
    assert pl.ok("ps", "-aq") == cid[:12] + "\n"


def test_runtime_refuses_a_sysctl_outside_the_container_namespaces(bundle, tmp_path, cleanup, host_sysctls):
    """The same rule in pallet-runtime itself, for a config.json written by hand (runc refuses these too)."""
    from conftest import PALLET_RUNTIME
    from runtime_helpers import Runtime, leftovers, unique, write_config

    rt = Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup, "pallet-runtime")
    flip = {"vm.swappiness": "1" if host_sysctls["vm/swappiness"].strip() != "1" else "2",
            "net.ipv4.ip_forward": "0" if host_sysctls["net/ipv4/ip_forward"].strip() == "1" else "1"}

    def host_net(config):
        config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
        config["linux"]["sysctl"] = {"net.ipv4.ip_forward": flip["net.ipv4.ip_forward"]}

    for mutate in (lambda c: c["linux"].__setitem__("sysctl", {"vm.swappiness": flip["vm.swappiness"]}), host_net):
        write_config(bundle, ["true"], mutate)
        cid = unique()
        r = rt("run", "--bundle", str(bundle), cid)
        assert r.returncode != 0 and "sysctl" in r.stderr, r.stderr
        assert leftovers(cid) == []
    assert {k: open(f"/proc/sys/{k}").read() for k in host_sysctls} == host_sysctls


@pytest.fixture
def btrfs_pallet(tmp_path, busybox_template, cleanup):
    """A pallet whose --root is on a btrfs loop image (this kernel lacks xfs quotas; btrfs qgroups work)."""
    import shutil
    import subprocess

    from engine_helpers import Pallet

    if not (shutil.which("mkfs.btrfs") and shutil.which("btrfs")):
        pytest.skip("btrfs-progs is not installed")
    img, mnt = tmp_path / "btrfs.img", tmp_path / "btrfs"
    with open(img, "wb") as f:
        f.truncate(300 << 20)
    mnt.mkdir()
    subprocess.run(["mkfs.btrfs", "-q", str(img)], check=True, capture_output=True)
    r = subprocess.run(["mount", "-o", "loop", str(img), str(mnt)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a btrfs loop image: {r.stderr.strip()}")
    cleanup.add(lambda: subprocess.run(["umount", str(mnt)], check=True))  # -o loop: the device goes with it
    p = Pallet(root=mnt / "root", runroot=tmp_path / "runroot", image=["busybox:test"])
    tar = subprocess.run(["tar", "--numeric-owner", "-C", str(busybox_template), "-c", "."], capture_output=True, check=True)
    subprocess.run(p.argv("import", "-", "busybox:test"), input=tar.stdout, capture_output=True, check=True)
    cleanup.add(p.remove_all)
    return p


def test_storage_opt_size_limits_the_writable_layer_on_btrfs(btrfs_pallet):
    p = btrfs_pallet
    r = p("run", "--rm", "--storage-opt", "size=10m", *p.image, "sh", "-c",
          "dd if=/dev/zero of=/small bs=1M count=5 && echo fits; dd if=/dev/zero of=/big bs=1M count=30 && echo all")
    assert "fits" in r.stdout and "all" not in r.stdout and "Disk quota exceeded" in r.stderr, r
    r = p("run", "--rm", *p.image, "sh", "-c", "dd if=/dev/zero of=/big bs=1M count=30 && echo all")
    assert "all" in r.stdout  # no limit without the flag
    assert p.ok("ps", "-aq") == "" and os.listdir(p.root / "overlay" / "active") == []
