"""`pallet debug` on a real Podman container (Debian's podman 4.3, runc, cgroupfs manager).

Podman runs with private roots laid out where pallet debug expects them
under a fake node root (<tmp>/node/var/lib/containers/storage and
<tmp>/node/run/containers/storage), and a private containers.conf as this
VM needs it (MACHINE-FACTS: cgroupfs manager, file events, capped ulimits).
Podman 4.3 keeps its libpod state in bolt_state.db, which pallet reads
with its own bbolt reader (pallet.debug.bolt).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

PALLET = str(Path(sys.executable).parent / "pallet")
PODMAN = shutil.which("podman") or "/usr/bin/podman"

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(PODMAN), reason="podman is not installed"),
    pytest.mark.skipif(not shutil.which("runc"), reason="runc is not installed"),
]


def _cgroup_mounts() -> list[str]:
    from pallet.debug.cgroupview import hierarchies

    return [h.mountpoint for h in hierarchies()]


def _unmount_under(prefix: str) -> None:
    from pallet.debug.mounts import read_mounts

    for m in sorted(read_mounts(), key=lambda m: -len(m.mountpoint)):
        if m.mountpoint.startswith(prefix):
            subprocess.run(["umount", "-l", m.mountpoint], capture_output=True)


@pytest.fixture
def podman(tmp_path, busybox_template, cleanup):
    # podman refuses a runroot longer than 50 characters: pytest's tmp_path is too deep
    short = Path(tempfile.mkdtemp(prefix="pdbg", dir="/tmp"))
    cleanup.add(lambda: shutil.rmtree(short, ignore_errors=True))
    node = short / "node"
    graph, run = node / "var/lib/containers/storage", node / "run/containers/storage"
    (tmp_path / "tmp").mkdir()
    conf = tmp_path / "containers.conf"
    conf.write_text(f"""[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{tmp_path}/events.log"
tmp_dir = "{tmp_path}/tmp"
""")
    storage_conf = tmp_path / "storage.conf"
    storage_conf.write_text(f'[storage]\ndriver = "overlay"\ngraphroot = "{graph}"\nrunroot = "{run}"\n')
    env = {**os.environ, "CONTAINERS_CONF": str(conf), "CONTAINERS_STORAGE_CONF": str(storage_conf)}
    base = [PODMAN, "--root", str(graph), "--runroot", str(run), "--storage-driver", "overlay"]

    def pm(*args: str, **kw) -> subprocess.CompletedProcess:
        result = subprocess.run(base + list(args), env=env, capture_output=True, text=True, timeout=120, **kw)
        assert result.returncode == 0, result.stderr
        return result

    # podman (cgroupfs manager) leaves /libpod_parent and /libpod_parent/conmon behind
    ours = [os.path.join(m, d) for m in _cgroup_mounts() for d in ("libpod_parent", "libpod_parent/conmon")
            if not os.path.exists(os.path.join(m, d))]

    def rmdirs():
        for d in sorted(ours, key=lambda d: -d.count("/")):
            try:
                os.rmdir(d)
            except OSError:
                pass
    cleanup.add(rmdirs)
    cleanup.add(lambda: _unmount_under(str(short)))
    cleanup.add(lambda: subprocess.run(base + ["system", "reset", "-f"], env=env, capture_output=True, timeout=120))
    tag = f"localhost/pallet-debug-bb:{secrets.token_hex(4)}"
    tar = subprocess.Popen(["tar", "--numeric-owner", "-c", "-C", str(busybox_template), "."], stdout=subprocess.PIPE)
    pm("import", "-q", "-", tag, stdin=tar.stdout)
    tar.wait()
    name = f"web-{secrets.token_hex(3)}"
    cid = pm("run", "-d", "--runtime", "runc", "--net", "none", "--name", name, tag, "sleep", "1000").stdout.strip()
    cleanup.add(lambda: subprocess.run(base + ["rm", "-f", "-t", "0", name], env=env, capture_output=True))
    pid = int(pm("inspect", "-f", "{{.State.Pid}}", name).stdout)
    conmon = int(pm("inspect", "-f", "{{.State.ConmonPid}}", name).stdout)
    return {"node": str(node), "name": name, "id": cid, "pid": pid, "conmon": conmon, "image": tag}


def debug(node: str, *argv: str) -> str:
    result = subprocess.run([PALLET, "debug", "--state-root", node, *argv], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def test_whois_a_real_podman_container(podman):
    (w,) = json.loads(debug(podman["node"], "whois", "--json", str(podman["pid"])))
    assert (w["Runtime"], w["ContainerID"], w["Name"], w["Image"]) == (
        "podman", podman["id"], podman["name"], podman["image"])
    assert w["CgroupDriver"] == "cgroupfs" and w["Cgroup"] == f"/libpod_parent/libpod-{podman['id']}"
    assert w["Hostname"] == podman["id"][:12]   # podman's default hostname
    # names, pid and state come from Podman 4.3's bolt_state.db, read as is
    assert w["Notes"] == [] and w["StateFile"].endswith("/userdata/config.json")
    (c,) = json.loads(debug(podman["node"], "whois", "--json", str(podman["conmon"])))
    assert c["Host"] and any("conmon" in n for n in c["Notes"])


def test_enter_by_name_then_fs_usage_sees_the_write(podman):
    node, name = podman["node"], podman["name"]
    # with -m the command runs in the container's mount namespace: its busybox, its writable layer
    debug(node, "enter", name, "-m", "--", "/bin/dd", "if=/dev/zero", "of=/blob", "bs=1024", "count=512")
    doc = json.loads(debug(node, "fs-usage", "--json"))
    (row,) = [c for c in doc["Containers"] if c["ContainerID"] == podman["id"]]
    assert row["Size"] >= 512 * 1024 and row["UpperDir"].endswith("/diff") and row["FsType"]
    assert os.path.getsize(os.path.join(row["UpperDir"], "blob")) == 512 * 1024


def test_usage_and_ns_of_a_podman_container(podman):
    doc = json.loads(debug(podman["node"], "usage", podman["name"], "--interval", "100ms", "--json"))
    assert doc["Memory"]["Usage"] > 0 and doc["Memory"]["Cgroup"].endswith(f"libpod-{podman['id']}")
    rows = json.loads(debug(podman["node"], "ns", "-t", "net", "--json"))
    ino = os.stat(f"/proc/{podman['pid']}/ns/net").st_ino
    (mine,) = [r for r in rows if r["Inode"] == ino]
    assert mine["Owner"] == f"podman:{podman['name']}"
