"""`pallet debug` on a real Docker container (Debian's docker.io 20.10: dockerd, containerd, runc).

A private containerd and dockerd run under a temp dir, as
/work/shared/reference/peers-baseline.sh starts them: their own root,
state, exec-root and sockets, `--bridge=none --iptables=false`, an empty
daemon.json, so nothing of the host's Docker (if any) is touched. The
image is the busybox template through `docker import`; nothing is pulled.
debug finds the private data root from dockerd's command line.

Teardown, also on failure: the container, dockerd, leftover shims (by the
PIDs whose command line names our containerd socket), containerd, the
mounts under the temp dir, the container's cgroups (and /docker if this
test made it), the host paths dockerd creates when missing
(/etc/docker/key.json, /run/docker/plugins, /run/containerd/s).

docker.io is not in the Makefile's apt packages: its postinst starts a
system dockerd on /var/lib/docker with iptables rules, a lasting change to
the machine a `make test` should not make. Without it this module skips.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import CGROUP_ROOT, Cleanup, _remove_cgroup_everywhere

PALLET = str(Path(sys.executable).parent / "pallet")
DOCKER = "/usr/bin/docker"        # Debian's 20.10 client, the daemon's API version
DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
CONTAINERD = shutil.which("containerd") or "/usr/bin/containerd"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not (os.path.exists(DOCKERD) and os.path.exists(DOCKER)),
                       reason="docker.io (dockerd 20.10) is not installed"),
    pytest.mark.skipif(not os.path.exists(CONTAINERD), reason="containerd is not installed"),
    pytest.mark.skipif(not shutil.which("runc"), reason="runc is not installed"),
]

# made when missing, whatever the private roots say: dockerd's trust key and plugin dir, the shims'
# socket dir (containerd 1.6 puts it under /run/containerd/s, not under its `state`)
HOST_PATHS = ("/etc/docker/key.json", "/run/docker/plugins", "/run/docker", "/etc/docker",
              "/run/containerd/s", "/run/containerd")


def _wait(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not ready after {timeout:.0f}s")
        time.sleep(0.1)


def _stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """TERM, then KILL after `timeout` (dockerd waits for its containers' stop timeout)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _pids_naming(text: bytes) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if text in f.read():
                        out.append(int(name))
            except OSError:
                pass
    return out


def _unmount_under(prefix: str) -> None:
    from pallet.debug.mounts import read_mounts

    for m in sorted(read_mounts(), key=lambda m: -len(m.mountpoint)):
        if m.mountpoint == prefix or m.mountpoint.startswith(prefix + "/"):
            if subprocess.run(["umount", m.mountpoint], capture_output=True).returncode:
                subprocess.run(["umount", "-l", m.mountpoint], capture_output=True)


def _remove_created(existed: set[str]) -> None:
    for p in HOST_PATHS:   # files first, then dirs deepest first; a dir only when empty
        if p in existed or not os.path.lexists(p):
            continue
        try:
            os.rmdir(p) if os.path.isdir(p) else os.unlink(p)
        except OSError:
            pass


@pytest.fixture(scope="module")
def docker(busybox_template):
    cleanup = Cleanup()
    try:
        yield _start(busybox_template, cleanup)
    finally:
        cleanup.run()


def _start(template: Path, cleanup: Cleanup) -> dict:
    # a short base: unix socket paths are limited to 108 bytes
    base = Path(tempfile.mkdtemp(prefix="pdk", dir="/tmp"))
    cleanup.add(lambda: shutil.rmtree(base, ignore_errors=True))
    existed = {p for p in HOST_PATHS if os.path.lexists(p)}
    cleanup.add(lambda: _remove_created(existed))
    docker_cgroup_existed = {h for h in os.listdir(CGROUP_ROOT) if os.path.isdir(f"{CGROUP_ROOT}/{h}/docker")}
    state: dict = {"base": str(base), "ids": []}

    def cgroups():
        # a just-stopped container's cgroup can stay busy for a moment: retry within a bounded wait
        deadline = time.monotonic() + 10
        while True:
            for cid in state["ids"]:
                _remove_cgroup_everywhere(f"/docker/{cid}")
            left = []
            for h in os.listdir(CGROUP_ROOT):
                if h not in docker_cgroup_existed and os.path.isdir(f"{CGROUP_ROOT}/{h}/docker"):
                    try:
                        os.rmdir(f"{CGROUP_ROOT}/{h}/docker")
                    except OSError:
                        left.append(h)
            if not left or time.monotonic() > deadline:
                return
            time.sleep(0.2)
    cleanup.add(cgroups)
    cleanup.add(lambda: _unmount_under(str(base)))

    sock = base / "run/ctd/ctd.sock"
    sock.parent.mkdir(parents=True)
    (base / "ctd").mkdir()
    config = base / "ctd/config.toml"
    config.write_text(f'''version = 2
root = "{base}/ctd/root"
state = "{base}/run/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{sock}"
[ttrpc]
  address = "{sock}.ttrpc"
[debug]
  address = "{base}/run/ctd/debug.sock"
[metrics]
  address = ""
''')
    log = open(base / "daemons.log", "wb")
    cleanup.add(log.close)
    ctd = subprocess.Popen([CONTAINERD, "--config", str(config)], stdout=log, stderr=log,
                           stdin=subprocess.DEVNULL, start_new_session=True)
    cleanup.add(lambda: _stop(ctd))
    # shims outlive a removed container only briefly; any left are ours by their -address
    cleanup.add(lambda: [_stop_foreign(pid) for pid in _pids_naming(b"-address\0" + bytes(sock))])
    _wait(sock.exists, "containerd socket", 10)

    data_root, exec_root = base / "docker", base / "run/docker"
    (base / "daemon.json").write_text("{}")
    host = f"unix://{base}/run/docker.sock"
    dockerd = subprocess.Popen(
        [DOCKERD, "--config-file", str(base / "daemon.json"), "--containerd", str(sock),
         "--data-root", str(data_root), "--exec-root", str(exec_root), "-H", host,
         "--pidfile", str(base / "run/docker.pid"), "--iptables=false", "--ip-masq=false",
         "--ip-forward=false", "--bridge=none", "--storage-driver", "overlay2"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
    cleanup.add(lambda: _stop(dockerd))
    env = {**os.environ, "DOCKER_HOST": host}

    def dk(*args: str, **kw) -> str:
        r = subprocess.run([DOCKER, *args], env=env, capture_output=True, timeout=60, **kw)
        assert r.returncode == 0, f"docker {args[0]}: {r.stderr.decode(errors='replace')}"
        return r.stdout.decode().strip()

    def up() -> bool:
        if dockerd.poll() is not None:
            # the log goes with the temp dir: quote its end
            tail = (base / "daemons.log").read_bytes()[-600:].decode(errors="replace")
            raise RuntimeError(f"dockerd exited with {dockerd.returncode}: {tail}")
        return subprocess.run([DOCKER, "version"], env=env, capture_output=True).returncode == 0
    _wait(up, "dockerd", 30)

    tag = f"pallet-debug-bb:{secrets.token_hex(3)}"
    tar = subprocess.run(["tar", "--numeric-owner", "-c", "-C", str(template), "."], capture_output=True,
                         check=True).stdout
    dk("import", "-", tag, input=tar)
    name = f"web-{secrets.token_hex(3)}"
    cid = dk("run", "-d", "--net=none", "--name", name, tag, "sleep", "1000")
    state["ids"].append(cid)
    cleanup.add(lambda: subprocess.run([DOCKER, "rm", "-f", cid], env=env, capture_output=True, timeout=60))
    doc = json.loads(dk("inspect", cid))[0]
    return {**state, "id": cid, "name": name, "image": tag, "pid": doc["State"]["Pid"],
            "upper": doc["GraphDriver"]["Data"]["UpperDir"], "data_root": str(data_root), "dk": dk, "env": env}


def _stop_foreign(pid: int) -> None:
    # not our child: TERM, a short wait, then KILL
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def debug(*argv: str) -> str:
    r = subprocess.run([PALLET, "debug", *argv], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr + r.stdout
    return r.stdout


def test_whois_names_the_docker_container_without_flags(docker):
    # the data root is private: debug finds it on dockerd's command line
    (w,) = json.loads(debug("whois", "--json", str(docker["pid"])))
    assert (w["Runtime"], w["ContainerID"], w["Name"], w["Image"]) == (
        "docker", docker["id"], docker["name"], docker["image"])
    assert w["Cgroup"] == f"/docker/{docker['id']}" and w["CgroupDriver"] == "cgroupfs"
    assert w["StateFile"] == f"{docker['data_root']}/containers/{docker['id']}/config.v2.json"
    assert w["Hostname"] == docker["id"][:12] and w["Notes"] == []
    # its parent, containerd-shim-runc-v2, sits in the daemons' cgroup: its argv names the task
    with open(f"/proc/{docker['pid']}/stat") as f:
        shim = int(f.read().rsplit(")", 1)[1].split()[1])
    (s,) = json.loads(debug("whois", "--json", str(shim)))
    assert (s["Role"], s["Runtime"], s["ContainerID"], s["Name"]) == ("shim", "docker", docker["id"], docker["name"])


def test_fs_usage_and_usage_match_docker_inspect(docker):
    docker["dk"]("exec", docker["name"], "sh", "-c", "echo hello > /greeting")
    # named explicitly, as for a stopped dockerd; the container appears once, not again as
    # containerd's record in the moby namespace
    doc = json.loads(debug("--docker-root", docker["data_root"], "fs-usage", "--json"))
    rows = [c for c in doc["Containers"] if c["ContainerID"] == docker["id"]]
    assert [(r["Runtime"], r["Name"], r["UpperDir"]) for r in rows] == [("docker", docker["name"], docker["upper"])]
    assert rows[0]["ApparentSize"] == len("hello\n") and rows[0]["Size"] >= rows[0]["ApparentSize"]
    u = json.loads(debug("usage", docker["id"][:12], "--interval", "0", "--json"))
    assert u["Container"] == f"docker:{docker['name']}" and u["Memory"]["Usage"] > 0
    assert u["Memory"]["Cgroup"].endswith(f"/docker/{docker['id']}")


def test_whois_under_a_custom_cgroup_parent(docker, cleanup):
    # /<parent>/<id> follows no runtime's naming: the containerd shim above the process names it
    dk, parent, name = docker["dk"], f"/pallet-dbg-{secrets.token_hex(4)}", f"odd-{secrets.token_hex(3)}"
    cleanup.add(lambda: _remove_cgroup_everywhere(parent))
    cleanup.add(lambda: subprocess.run([DOCKER, "rm", "-f", name], env=docker["env"], capture_output=True,
                                       timeout=60))
    cid = dk("run", "-d", "--net=none", "--cgroup-parent", parent, "--name", name, docker["image"], "sleep", "1000")
    pid = dk("inspect", "-f", "{{.State.Pid}}", cid)
    (w,) = json.loads(debug("whois", "--json", pid))
    assert w["Cgroup"] == f"{parent}/{cid}" and not w["Host"]
    assert (w["Runtime"], w["ContainerID"], w["Name"], w["Role"]) == ("docker", cid, name, "container")
    assert any(n.startswith(f"under the containerd shim of task moby/{cid}") for n in w["Notes"])
