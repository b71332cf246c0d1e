"""`pallet debug` against real runc containers named the way each runtime names them.

Each container runs under runc (a private --root under tmp) with the
cgroup path Docker, containerd (k8s.io, systemd driver), CRI-O (cgroupfs
driver), Podman (systemd driver) or pallet would give it, and its
runtime's state files are laid out in a fake node root (formats and
versions: tests/unit/test_debug_layouts.py). The debug commands run as
the real `pallet` binary. Everything is removed by `cleanup`, also on failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
import test_debug_layouts as layouts  # noqa: E402

from pallet.cgroups.paths import systemd_path  # noqa: E402
from pallet.debug.paths import HostPaths  # noqa: E402

PALLET = str(Path(sys.executable).parent / "pallet")
RUNC = shutil.which("runc") or "/usr/sbin/runc"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(RUNC), reason="runc is not installed"),
]

POD_UID = "7f3c2a10-5b4e-4d6f-9a8b-0c1d2e3f4a5b"
POD_UID_ = POD_UID.replace("-", "_")


def _hierarchy_mounts() -> list[str]:
    from pallet.debug.cgroupview import hierarchies

    return [h.mountpoint for h in hierarchies()]


class RuncNode:
    """Starts runc containers and undoes everything through `cleanup`."""

    def __init__(self, tmp_path: Path, busybox_template: Path, cleanup) -> None:
        self.tmp = tmp_path
        self.template = busybox_template
        self.cleanup = cleanup
        self.runc_root = tmp_path / "runc-root"
        self.runc_root.mkdir()
        self.paths = HostPaths(root=str(tmp_path / "node"), pallet_root=str(tmp_path / "pallet-root"))
        os.makedirs(self.paths.root)

    def start(self, cid: str, cgroups_path: str, args: list[str], *, hostname: str = "box",
              tmpfs_mb: int = 0) -> int:
        bundle = self.tmp / f"bundle-{cid[:12]}"
        bundle.mkdir()
        subprocess.run(["cp", "-a", str(self.template), str(bundle / "rootfs")], check=True)
        subprocess.run([RUNC, "spec", "-b", str(bundle)], check=True)
        spec = json.loads((bundle / "config.json").read_text())
        spec["process"]["terminal"] = False
        spec["process"]["args"] = args
        spec["hostname"] = hostname
        spec["linux"]["cgroupsPath"] = cgroups_path
        if tmpfs_mb:
            spec["mounts"].append({"destination": "/fill", "type": "tmpfs", "source": "tmpfs",
                                   "options": ["nosuid", "nodev", f"size={tmpfs_mb * 2}m"]})
        (bundle / "config.json").write_text(json.dumps(spec))
        # cgroup dirs above the container that this start creates: runc removes
        # only the leaf, so the parents are ours to remove.
        levels = []
        parts = cgroups_path.strip("/").split("/")
        for i in range(1, len(parts)):
            levels.append("/".join(parts[:i]))
        created = [os.path.join(m, lvl) for m in _hierarchy_mounts() for lvl in levels
                   if not os.path.exists(os.path.join(m, lvl))]
        self.cleanup.add(lambda: self._rmdirs(created))
        pidfile = self.tmp / f"{cid[:12]}.pid"
        self.cleanup.add(lambda: subprocess.run([RUNC, "--root", str(self.runc_root), "delete", "-f", cid],
                                                capture_output=True))
        # The container inherits runc's stdio: a pipe here would never see EOF, so a file.
        log = self.tmp / f"{cid[:12]}.log"
        with open(log, "w") as out:
            result = subprocess.run([RUNC, "--root", str(self.runc_root), "run", "-d", "--pid-file", str(pidfile),
                                     "--bundle", str(bundle), cid],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=30)
        assert result.returncode == 0, log.read_text()
        return int(pidfile.read_text())

    @staticmethod
    def _rmdirs(dirs: list[str]) -> None:
        # A just-deleted container's cgroup can linger a moment, keeping its parent busy: retry, bounded.
        deadline = time.monotonic() + 5
        while True:
            left = []
            for d in sorted(dirs, key=lambda d: -d.count("/")):
                try:
                    os.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError:
                    left.append(d)  # busy: lingering, or someone else's container lives there too
            if not left or time.monotonic() > deadline:
                return
            time.sleep(0.1)

    def debug(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [PALLET, "--root", self.paths.pallet_root, "debug", "--state-root", self.paths.root, *argv]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check:
            assert result.returncode == 0, result.stderr + result.stdout
        return result

    def debug_json(self, *argv: str):
        return json.loads(self.debug(*argv, "--json").stdout)


@pytest.fixture
def node(tmp_path, busybox_template, cleanup) -> RuncNode:
    return RuncNode(tmp_path, busybox_template, cleanup)


def _ids(n: int) -> list[str]:
    return [secrets.token_hex(32) for _ in range(n)]


@pytest.fixture
def five(node):
    """One container per runtime naming, each with its runtime's state files."""
    docker, dsys, ctrd, crio, podman = _ids(5)
    sandbox = secrets.token_hex(32)
    pids = {}
    pids["docker"] = node.start(docker, f"/docker/{docker}", ["sleep", "1000"], hostname="web-host")
    layouts.docker_container(node.paths, docker, name="web", image="busybox:1.36", pid=pids["docker"])
    # Docker's systemd driver asks systemd for `system.slice:docker:<id>`; there is no systemd
    # here, so runc gets the cgroupfs path systemd would have made (pallet.cgroups expands it).
    scope = systemd_path(f"system.slice:docker:{dsys}")
    assert scope == f"/system.slice/docker-{dsys}.scope"
    pids["docker-systemd"] = node.start(dsys, scope, ["sleep", "1000"])
    layouts.docker_container(node.paths, dsys, name="k8s_app_shop-0_shop_" + POD_UID + "_0", image="app:2",
                             pid=pids["docker-systemd"],
                             labels={"io.kubernetes.pod.name": "shop-0", "io.kubernetes.pod.namespace": "shop",
                                     "io.kubernetes.pod.uid": POD_UID, "io.kubernetes.container.name": "app"})
    pids["containerd"] = node.start(
        ctrd, f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{POD_UID_}.slice/"
              f"cri-containerd-{ctrd}.scope", ["sleep", "1000"], hostname="api-0")
    layouts.containerd_task(node.paths, ctrd, pid=pids["containerd"], annotations=layouts.cri_annotations(
        kind="container", pod="api-0", namespace="prod", uid=POD_UID, sandbox_id=sandbox, container="api",
        image="registry.local/api:7"))
    # containerd's meta.db has the CRI labels too (and would name the container once stopped)
    layouts.containerd_meta(node.paths, {("k8s.io", ctrd): {"image": "registry.local/api:7", "labels": {
        "io.kubernetes.pod.name": "api-0", "io.kubernetes.pod.namespace": "prod", "io.kubernetes.pod.uid": POD_UID,
        "io.kubernetes.container.name": "api", "io.cri-containerd.kind": "container"}, "snapshotKey": ctrd}})
    pids["cri-o"] = node.start(crio, f"/kubepods/burstable/pod{POD_UID}/crio-{crio}", ["sleep", "1000"])
    layouts.crio_container(node.paths, crio, pod="cache-0", namespace="infra", uid=POD_UID, container="redis",
                           sandbox_id=sandbox, image="docker.io/library/redis:7", pid=pids["cri-o"])
    pids["podman"] = node.start(podman, f"/machine.slice/libpod-{podman}.scope", ["sleep", "1000"])
    layouts.podman_container(node.paths, podman, name="db", pid=pids["podman"], pod=("c" * 64, "backend"))
    return {"ids": dict(zip(["docker", "docker-systemd", "containerd", "cri-o", "podman"],
                            [docker, dsys, ctrd, crio, podman])), "pids": pids}


def test_whois_names_every_runtime(node, five):
    pids, ids = five["pids"], five["ids"]
    doc = node.debug_json("whois", *(str(p) for p in pids.values()))
    by_runtime = {d["ContainerID"]: d for d in doc}
    web = by_runtime[ids["docker"]]
    assert (web["Runtime"], web["Name"], web["Image"], web["Hostname"]) == ("docker", "web", "busybox:1.36", "web-host")
    assert web["HostnameSource"] == "uts namespace" and web["CgroupDriver"] == "cgroupfs"
    app = by_runtime[ids["docker-systemd"]]
    assert (app["PodNamespace"], app["PodName"], app["PodUID"], app["CgroupDriver"]) == (
        "shop", "shop-0", POD_UID, "systemd")
    api = by_runtime[ids["containerd"]]
    assert (api["Runtime"], api["Name"], api["Image"], api["PodName"], api["PodNamespace"], api["QoS"]) == (
        "containerd", "api", "registry.local/api:7", "api-0", "prod", "besteffort")
    assert api["Hostname"] == "api-0"
    redis = by_runtime[ids["cri-o"]]
    assert (redis["Runtime"], redis["Name"], redis["PodName"], redis["PodNamespace"], redis["QoS"]) == (
        "cri-o", "redis", "cache-0", "infra", "burstable")
    db = by_runtime[ids["podman"]]
    assert (db["Runtime"], db["Name"], db["PodName"]) == ("podman", "db", "backend")
    assert all(not d["Host"] for d in doc)


def test_whois_text_format_and_host(node, five):
    pid = five["pids"]["containerd"]
    out = node.debug("whois", "-f", "{{.Runtime}} {{.PodNamespace}}/{{.PodName}} {{.Hostname}}", str(pid)).stdout
    assert out == "containerd prod/api-0 api-0\n"
    text = node.debug("whois", str(os.getpid())).stdout
    assert "host process" in text


def test_whois_with_unreadable_state_says_what_it_knows(node, five):
    # remove the docker state: whois still names runtime and id, and says what is missing
    shutil.rmtree(os.path.join(node.paths.docker_root, "containers"))
    d = node.debug_json("whois", str(five["pids"]["docker"]))[0]
    assert d["Runtime"] == "docker" and d["ContainerID"] == five["ids"]["docker"] and d["Name"] == ""
    assert any("docker" in n for n in d["Notes"])


def test_usage_counts_a_known_allocation(node):
    (cid,) = _ids(1)
    # 64 MiB in a tmpfs: shmem is charged to the container and is not inactive file cache
    pid = node.start(cid, f"/docker/{cid}", ["sh", "-c", "dd if=/dev/zero of=/fill/blob bs=1M count=64 && "
                                                         "touch /fill/done && sleep 1000"], tmpfs_mb=64)
    layouts.docker_container(node.paths, cid, name="filler", pid=pid)
    deadline = time.time() + 20
    while not os.path.exists(f"/proc/{pid}/root/fill/done"):
        assert time.time() < deadline, "dd did not finish"
        time.sleep(0.1)
    doc = node.debug_json("usage", "filler", "--interval", "200ms")
    mem = doc["Memory"]
    assert 64 << 20 <= mem["Usage"] < 80 << 20, mem
    assert mem["Cgroup"].endswith(f"/docker/{cid}")
    assert doc["CPUPercent"] is not None and doc["CPUPercent"] < 50


def test_usage_cpu_percent_of_a_busy_container(node):
    (cid,) = _ids(1)
    pid = node.start(cid, f"/pallet/{cid}", ["sh", "-c", "while :; do :; done"])
    doc = node.debug_json("usage", str(pid), "--interval", "1s")
    # a busy loop takes a CPU, but the machine is shared: only require it clearly
    # non-zero and at most all CPUs (timing-free bounds)
    assert 5 < doc["CPUPercent"] <= 100 * os.cpu_count() + 5, doc
    text = node.debug("usage", str(pid), "--interval", "0.3s").stdout
    assert "cpu:" in text and "memory:" in text


def test_ns_attributes_the_containers_namespaces(node, five):
    pid = five["pids"]["podman"]
    net = os.stat(f"/proc/{pid}/ns/net").st_ino
    rows = node.debug_json("ns", "-t", "net")
    mine = [r for r in rows if r["Inode"] == net]
    assert len(mine) == 1 and mine[0]["Owner"].startswith("podman:db") and mine[0]["PID"] == pid
    assert mine[0]["Nprocs"] == 1
    host = [r for r in rows if r["Inode"] == os.stat("/proc/self/ns/net").st_ino]
    assert host and host[0]["Owner"] == "host"
    # the namespaces of one PID, every type
    per_pid = node.debug_json("ns", str(five["pids"]["cri-o"]))
    assert {r["Type"] for r in per_pid} >= {"net", "pid", "mnt", "uts", "ipc"}
    assert all(r["Owner"].startswith("cri-o:redis") for r in per_pid if r["Type"] in ("net", "pid", "uts"))


def test_enter_runs_host_tools_in_the_containers_netns(node, five):
    pid = five["pids"]["docker"]
    out = node.debug("enter", str(pid), "--", "ip", "-o", "link").stdout
    # a fresh network namespace has only the loopback device
    assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"], out
    out = node.debug("enter", "web", "-u", "--", "hostname").stdout
    assert out.strip() == "web-host"
    # the mount namespace too: the container's own busybox and its /etc/hostname
    # -m: the container's root, not the host's (busybox_rootfs makes /linuxrc; the host has none)
    listing = node.debug("enter", "web", "-m", "--", "/bin/ls", "/").stdout.split()
    assert "linuxrc" in listing and "boot" not in listing, listing
    out = node.debug("enter", "-t", "web", "-m", "-p", "--", "/bin/ps").stdout
    assert "sleep 1000" in out and "python" not in out
    result = node.debug("enter", str(pid), "--", "sh", "-c", "exit 7", check=False)
    assert result.returncode == 7


def test_caps_of_a_container_process(node, five):
    pid = five["pids"]["docker"]
    doc = node.debug_json("caps", str(pid))[0]
    eff = next(s for s in doc["Sets"] if s["Field"] == "CapEff")
    # runc spec's default set
    assert eff["Names"] == ["KILL", "NET_BIND_SERVICE", "AUDIT_WRITE"]
    assert "CHOWN" in eff["Dropped"] and eff["Added"] == []
    text = node.debug("caps", str(pid), "00000000a80425fb").stdout
    assert "CapEff: 0000000020000420" in text and "dropped (none)" in text


def test_cgroups_mode_hierarchies_and_tree(node, five):
    doc = node.debug_json("cgroups")
    assert doc["Mode"] in ("v1", "hybrid", "v2")
    assert any("memory" in h["Controllers"] for h in doc["Hierarchies"]) or doc["Mode"] == "v2"
    text = node.debug("cgroups", "--tree", "web").stdout
    assert f"{five['ids']['docker']}  (1 procs)  [docker:web]" in text
    tree = node.debug("cgroups", "--tree", "--depth", "4").stdout
    assert f"[pod {POD_UID} (besteffort)]" in tree or doc["Mode"] == "v2"
    assert "[cri-o:redis pod=infra/cache-0]" in tree and "[podman:db pod=backend]" in tree
    # the cgroup2 hierarchy (the unified mount on hybrid, the root on v2) names them the same way
    unified = node.debug("cgroups", "--tree", "-c", "unified", "web").stdout
    assert f"{five['ids']['docker']}  (1 procs)  [docker:web]" in unified


def test_swap_runs_on_the_real_proc(node, five):
    # no swap on this machine: the command still ranks (nothing) and exits 0
    doc = node.debug_json("swap", "--top", "5")
    assert doc["Total"] >= 0 and isinstance(doc["Processes"], list)


def test_fs_usage_of_the_fake_node(node, five):
    doc = node.debug_json("fs-usage")
    names = {c["Name"] for c in doc["Containers"]}
    assert {"web", "api", "redis", "db"} <= names
