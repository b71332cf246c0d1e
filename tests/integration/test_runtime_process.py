"""What a process inside a pallet-runtime container sees: exec, ps, kill --all, tty, user ns, namespaces, limits."""

from __future__ import annotations

import array
import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import Runtime, leftovers, unique, write_config

pytestmark = [requires_root, pytest.mark.root]


@pytest.fixture
def rt(tmp_path, cleanup):
    return Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup, "pallet-runtime")


def running(rt, bundle, args=("sleep", "60"), mutate=None) -> str:
    cid = unique()
    write_config(bundle, list(args), mutate)
    rt.ok("run", "-d", "-b", str(bundle), cid)
    return cid


def run_probe(rt, bundle, script: str, mutate=None, *flags: str) -> subprocess.CompletedProcess:
    write_config(bundle, ["sh", "-c", script], mutate)
    return rt("run", *flags, "-b", str(bundle), unique())


def test_exec_env_cwd_user_exit_code(rt, bundle):
    cid = running(rt, bundle)
    r = rt("exec", "-e", "FOO=bar", "--cwd", "/tmp", "-u", "65534:65534", cid, "sh", "-c", 'echo $FOO $(pwd) $(id -u):$(id -g); exit 5')
    assert (r.returncode, r.stdout) == (5, "bar /tmp 65534:65534\n"), r.stderr
    r = rt("exec", cid, "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
    pid, init = r.stdout.split("\n")[:2]
    assert int(pid) > 1 and init.strip() == "sleep 60"  # same pid ns as the init
    r = rt("exec", cid, "/bin/nope")
    assert r.returncode == 1 and "exec /bin/nope: no such file or directory" in r.stderr
    r = rt("exec", "--cap", "CAP_SYS_ADMIN", cid, "grep", "CapEff", "/proc/self/status")
    assert int(r.stdout.split()[1], 16) & (1 << 21)


def test_exec_process_json_and_detach(rt, bundle, tmp_path):
    cid = running(rt, bundle)
    proc = {"args": ["sh", "-c", "echo from-json > /dev/shm/out"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}
    (tmp_path / "p.json").write_text(json.dumps(proc))
    rt.ok("exec", "--process", str(tmp_path / "p.json"), cid)
    assert rt.ok("exec", cid, "cat", "/dev/shm/out").stdout == "from-json\n"
    rt.ok("exec", "-d", "--pid-file", str(tmp_path / "ep"), cid, "sleep", "30")
    epid = int((tmp_path / "ep").read_text())
    assert Path(f"/proc/{epid}/cmdline").read_bytes().startswith(b"sleep")


def test_exec_on_stopped_or_missing_container(rt, bundle):
    cid = unique()
    write_config(bundle, ["true"])
    rt.ok("create", "-b", str(bundle), cid)
    rt.ok("start", cid)
    deadline = time.monotonic() + 5
    while rt.state(cid)["status"] != "stopped":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = rt("exec", cid, "true")
    assert r.returncode == 1 and f"container {cid} is stopped: cannot exec" in r.stderr
    r = rt("exec", "nope", "true")
    assert r.returncode == 1 and "container nope does not exist" in r.stderr


def test_ps_and_kill_all_go_through_the_cgroup(rt, bundle):
    cid = running(rt, bundle, ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    deadline = time.monotonic() + 5
    while len(json.loads(rt.ok("ps", "-f", "json", cid).stdout)) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pids = json.loads(rt.ok("ps", "-f", "json", cid).stdout)
    table = rt.ok("ps", cid).stdout.splitlines()
    assert table[0].split()[1] == "PID" and len(table) == 4
    assert {int(line.split()[1]) for line in table[1:]} == set(pids)
    rt.ok("kill", "--all", cid, "KILL")
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{p}").exists() and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2] for p in pids):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    rt.ok("delete", cid)
    assert leftovers(cid) == []


def test_cgroups_path_places_the_container(rt, bundle):
    path = f"/pallet/{unique('cg')}"  # under the parent pallet uses anyway: nothing new is left
    cid = running(rt, bundle, mutate=lambda c: c["linux"].update(cgroupsPath=path))
    pid = rt.state(cid)["pid"]
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert any(line.endswith(f":pids:{path}") for line in lines), lines
    rt.ok("delete", "-f", cid)
    assert not Path(f"/sys/fs/cgroup/pids{path}").exists()


def _console_socket(path: Path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.listen(1)
    return s


def test_terminal_through_console_socket(rt, bundle, tmp_path):
    sock = _console_socket(tmp_path / "console.sock")
    cid = unique()
    write_config(bundle, ["sh", "-c", "tty; stty size; sleep 1"], lambda c: c["process"].update(consoleSize={"height": 30, "width": 100}), terminal=True)
    try:
        rt.ok("create", "--console-socket", str(tmp_path / "console.sock"), "-b", str(bundle), cid)
        conn, _ = sock.accept()
        msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4))
        master = array.array("i", anc[0][2][:4])[0]
        conn.close()
        rt.ok("start", cid)
        out = b""
        deadline = time.monotonic() + 5
        while b"100" not in out and time.monotonic() < deadline:
            try:
                out += os.read(master, 1024)
            except OSError:
                break
        os.close(master)
        assert b"/dev/pts/0" in out and b"30 100" in out, out
    finally:
        sock.close()


def test_terminal_without_console_socket_is_refused(rt, bundle):
    write_config(bundle, ["true"], terminal=True)
    r = rt("create", "-b", str(bundle), unique())
    assert r.returncode == 1 and "console-socket" in r.stderr


def test_user_namespace_maps(rt, bundle, tmp_path):
    # the mapped root must be able to walk to the rootfs
    p = bundle
    while p != Path("/"):
        p.chmod(p.stat().st_mode | 0o011)
        p = p.parent

    def userns(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("cgroup",)]
    r = run_probe(rt, bundle, "id -u; cat /proc/self/uid_map; ls -ln /dev/null", userns)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0" and lines[1].split() == ["0", "100000", "65536"]


def test_join_a_network_namespace_by_path(rt, bundle):
    holder = subprocess.Popen(["unshare", "--net", "sleep", "60"])
    try:
        path = f"/proc/{holder.pid}/ns/net"
        deadline = time.monotonic() + 5
        while os.readlink(path) == os.readlink("/proc/self/ns/net"):
            assert time.monotonic() < deadline
            time.sleep(0.01)

        def join(c):
            c["linux"]["namespaces"] = [n if n["type"] != "network" else {"type": "network", "path": path} for n in c["linux"]["namespaces"]]
        r = run_probe(rt, bundle, "readlink /proc/self/ns/net", join)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == os.readlink(path)
    finally:
        holder.kill()
        holder.wait()


def test_hostname_rlimits_oom_sysctl_nnp(rt, bundle):
    def mutate(c):
        c["hostname"] = "probe-host"
        c["domainname"] = "probe.domain"
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000}]
        c["process"]["oomScoreAdj"] = 500
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    r = run_probe(rt, bundle, "hostname; cat /proc/sys/kernel/domainname; ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj;"
                  " cat /proc/sys/net/ipv4/ip_forward; grep NoNewPrivs /proc/self/status; ip link show lo | grep -c UP", mutate)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:8] == ["probe-host", "probe.domain", "512", "1000", "500", "1", "NoNewPrivs:\t1", "1"]


def test_rlimit_above_the_host_hard_limit_is_a_clear_error(rt, bundle):
    write_config(bundle, ["true"], lambda c: c["process"].update(rlimits=[{"type": "RLIMIT_NOFILE", "soft": 10**6, "hard": 10**6}]))
    r = rt("run", "-b", str(bundle), unique())
    assert r.returncode == 1 and "setrlimit RLIMIT_NOFILE" in r.stderr and "hard limit" in r.stderr


def test_user_groups_umask_caps(rt, bundle):
    def mutate(c):
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 6], "umask": 0o077}
        c["process"]["capabilities"] = {k: ["CAP_NET_RAW", "CAP_KILL"] for k in ("bounding", "effective", "permitted", "inheritable", "ambient")}
        c["root"]["readonly"] = False
    r = run_probe(rt, bundle, "id -u; id -g; id -G; umask; grep -E 'Cap(Eff|Bnd|Amb)' /proc/self/status", mutate)
    assert r.returncode == 0, r.stderr
    out = r.stdout.split("\n")
    assert out[:4] == ["1000", "1000", "1000 5 6", "0077"]
    caps = {line.split(":")[0]: int(line.split()[1], 16) for line in out[4:7]}
    want = (1 << 13) | (1 << 5)
    assert caps == {"CapEff": want, "CapBnd": want, "CapAmb": want}


def test_devices_masked_readonly_and_readonly_root(rt, bundle):
    def mutate(c):
        c["linux"]["devices"] = [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 0o640}]
    r = run_probe(rt, bundle, "ls -l /dev/fuse; cat /proc/kcore | wc -c; ls /sys/firmware | wc -l;"
                  " echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null || echo ro-proc; touch /x 2>/dev/null || echo ro-root", mutate)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("crw-r-----") and "10, 229" in lines[0]
    assert lines[1:] == ["0", "0", "ro-proc", "ro-root"]


def test_no_pivot(rt, bundle):
    r = run_probe(rt, bundle, "ls /; cat /proc/1/cmdline", None, "--no-pivot")
    assert r.returncode == 0, r.stderr
    assert "bin" in r.stdout.split() and "work" not in r.stdout.split()


def test_mount_destination_symlink_stays_inside(rt, bundle, tmp_path):
    """A symlink in the image pointing at a host path must not make a mount land on the host."""
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    (bundle / "rootfs" / "escape").symlink_to(str(host_dir))
    (bundle / "rootfs" / "up").symlink_to("../../../../../../..")

    def mutate(c):
        c["mounts"].append({"destination": "/escape/sub", "type": "tmpfs", "source": "tmpfs"})
        c["mounts"].append({"destination": "/up/tmp/marker-dir", "type": "tmpfs", "source": "tmpfs"})
        c["root"]["readonly"] = False
    r = run_probe(rt, bundle, "grep -c -E ' /tmp/marker-dir | " + str(host_dir) + "/sub ' /proc/self/mounts", mutate)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "2"
    assert list(host_dir.iterdir()) == []  # nothing created or mounted on the host
    assert (bundle / "rootfs" / str(host_dir).lstrip("/") / "sub").is_dir()
    assert not Path("/tmp/marker-dir").exists()


@pytest.mark.parametrize("cgroupns", [True, False])
def test_mount_over_a_cgroup_hierarchy_stays_on_top(rt, bundle, cgroupns):
    """The init mounts most things before it joins its cgroup and the cgroup hierarchies after:
    a mount listed after /sys/fs/cgroup and overlapping it still lands on top of it."""
    if not os.path.ismount("/sys/fs/cgroup/pids"):
        pytest.skip("no v1 pids hierarchy on this host")

    def mutate(c):
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]
        if cgroupns:
            c["linux"]["namespaces"].append({"type": "cgroup"})
        c["mounts"].append({"destination": "/sys/fs/cgroup/pids", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]})
        c["mounts"].append({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]})
    r = run_probe(rt, bundle, "awk '$5 ~ \"^/sys/fs/cgroup/(pids|memory)$|^/data$\" {print $5, $(NF-2)}' /proc/self/mountinfo", mutate)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()  # mountinfo lists mounts in the order they were made
    assert {"/sys/fs/cgroup/memory cgroup", "/sys/fs/cgroup/pids cgroup", "/sys/fs/cgroup/pids tmpfs",
            "/data tmpfs"} <= set(lines), r.stdout
    assert lines.index("/sys/fs/cgroup/pids tmpfs") > lines.index("/sys/fs/cgroup/pids cgroup")  # on top


def test_bind_mount_options(rt, bundle, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("data")

    def mutate(c):
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nosuid", "nodev"]})
        c["mounts"].append({"destination": "/etc/hostfile", "type": "bind", "source": str(src / "f"), "options": ["bind"]})
    r = run_probe(rt, bundle, "echo $(cat /data/f); echo $(cat /etc/hostfile); touch /data/x 2>/dev/null || echo ro; grep ' /data ' /proc/self/mounts", mutate)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["data", "data", "ro"]
    opts = lines[3].split()[3].split(",")
    assert {"ro", "nosuid", "nodev"} <= set(opts)


def test_apparmor_profile_on_a_host_without_apparmor(rt, bundle):
    if os.path.exists("/sys/kernel/security/apparmor"):
        pytest.skip("AppArmor is enabled here")
    write_config(bundle, ["true"], lambda c: c["process"].update(apparmorProfile="docker-default"))
    r = rt("run", "-b", str(bundle), unique())
    assert r.returncode == 1 and "AppArmor is not enabled" in r.stderr


def _in_pty(argv: list[str], keys: bytes, timeout: float = 10.0) -> tuple[bytes, int]:
    import pty
    import select

    pid, fd = pty.fork()
    if pid == 0:
        os.execv(argv[0], argv)
    out = b""
    sent = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
        if not sent and b"# " in out:
            os.write(fd, keys)
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


def test_foreground_run_and_exec_with_a_terminal(rt, bundle):
    cid = unique()
    write_config(bundle, ["sh"], terminal=True)
    rt.created.append(cid)
    out, code = _in_pty([PALLET_RUNTIME, "--root", str(rt.root), "run", "-b", str(bundle), cid],
                        b"tty; echo $((6*7)); exit 4\n")
    assert code == 4 and b"/dev/pts/0" in out and b"42" in out, out
    cid = running(rt, bundle)
    out, code = _in_pty([PALLET_RUNTIME, "--root", str(rt.root), "exec", "-t", cid, "sh"], b"tty; exit 3\n")
    assert code == 3 and b"/dev/pts/" in out, out


def test_exec_no_new_privs_and_join_pid_namespace_by_path(rt, bundle):
    cid = running(rt, bundle, mutate=lambda c: c["process"].update(noNewPrivileges=False))
    assert rt.ok("exec", cid, "grep", "NoNewPrivs", "/proc/self/status").stdout.split()[1] == "0"
    assert rt.ok("exec", "--no-new-privs", cid, "grep", "NoNewPrivs", "/proc/self/status").stdout.split()[1] == "1"
    # a second container joining the first one's pid namespace sees its processes
    pid = rt.state(cid)["pid"]

    def join(c):
        c["linux"]["namespaces"] = [n if n["type"] != "pid" else {"type": "pid", "path": f"/proc/{pid}/ns/pid"}
                                    for n in c["linux"]["namespaces"]]
    r = run_probe(rt, bundle, "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$", join)
    assert r.returncode == 0, r.stderr
    first, me = r.stdout.split("\n")[:2]
    assert first.strip() == "sleep 60" and int(me) > 1
