"""swap ranking, whois and caps over a fake /proc tree and a fake node."""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_debug_layouts as layouts  # noqa: E402

from pallet.debug.attribution import Attributor  # noqa: E402
from pallet.debug.catalog import Catalog  # noqa: E402
from pallet.debug.paths import HostPaths  # noqa: E402

CID, SID, UID = layouts.CID, layouts.SID, layouts.UID
UID_ = UID.replace("-", "_")
PCID = "3" * 64
CRIO = "6" * 64


def status_text(pid: int, name: str, swap_kb: int | None, cap_eff: str = "00000000a80425fb") -> str:
    lines = [f"Name:\t{name}", "Umask:\t0022", "State:\tS (sleeping)", f"Tgid:\t{pid}", f"Pid:\t{pid}", "PPid:\t1",
             f"CapInh:\t0000000000000000", f"CapPrm:\t{cap_eff}", f"CapEff:\t{cap_eff}",
             "CapBnd:\t000001ffffffffff", "CapAmb:\t0000000000000000"]
    if swap_kb is not None:  # kernel threads have no Vm* lines
        lines[5:5] = ["VmRSS:\t    1000 kB", f"VmSwap:\t{swap_kb:8d} kB"]
    return "\n".join(lines) + "\n"


def fake_proc(root: Path, procs: dict[int, tuple[str, int | None, str]]) -> str:
    for pid, (name, swap, cgroup) in procs.items():
        d = root / str(pid)
        d.mkdir(parents=True)
        (d / "status").write_text(status_text(pid, name, swap))
        (d / "cgroup").write_text(cgroup)
        (d / "cmdline").write_bytes(name.encode() + b"\0--flag\0" if swap is not None else b"")
        (d / "comm").write_text(name + "\n")
    return str(root)


def v1(path: str) -> str:
    return f"4:memory:{path}\n3:cpu,cpuacct:{path}\n1:name=systemd:{path}\n0::/\n"


@pytest.fixture
def node(tmp_path):
    paths = HostPaths(root=str(tmp_path / "node"), pallet_root=str(tmp_path / "pallet"))
    docker_labels = {"io.kubernetes.pod.name": "web-0", "io.kubernetes.pod.namespace": "shop",
                     "io.kubernetes.pod.uid": UID, "io.kubernetes.container.name": "nginx"}
    layouts.docker_container(paths, CID, name="k8s_nginx_web-0", labels=docker_labels, pid=100)
    layouts.podman_container(paths, PCID, name="db", pid=200)
    layouts.crio_container(paths, CRIO, pod="api-1", namespace="prod", uid="0" * 8 + UID[8:], container="api",
                           sandbox_id=SID, pid=300)
    proc = fake_proc(tmp_path / "proc", {
        1: ("init", 0, "0::/init.scope\n"),
        2: ("kthreadd", None, "0::/\n"),
        100: ("nginx", 5000, v1(f"/kubepods/burstable/pod{UID}/{CID}")),
        101: ("nginx-worker", 7000, v1(f"/kubepods/burstable/pod{UID}/{CID}")),
        200: ("postgres", 20000, f"0::/machine.slice/libpod-{PCID}.scope\n"),
        201: ("conmon", 100, f"0::/machine.slice/libpod-conmon-{PCID}.scope\n"),
        300: ("api", 3000, f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{'0'*8+UID_[8:]}.slice/crio-{CRIO}.scope\n"),
        400: ("sshd", 9000, "0::/system.slice/sshd.service\n"),
        500: ("orphan", 1, f"0::/system.slice/docker-{'8' * 64}.scope\n"),
    })
    return HostPaths(root=paths.root, pallet_root=paths.pallet_root, proc=proc)


def test_swap_ranking(node):
    from pallet.debug.swap import report

    r = report(Attributor(Catalog(node)), top=20)
    assert [p.pid for p in r.processes] == [200, 400, 101, 100, 300, 201, 500]
    assert r.total == (5000 + 7000 + 20000 + 100 + 3000 + 9000 + 1) * 1024
    containers = {g.key: g for g in r.containers}
    assert containers["podman:db"].swap == 20100 * 1024 and containers["podman:db"].nprocs == 2
    assert containers["docker:k8s_nginx_web-0"].swap == 12000 * 1024
    assert containers["cri-o:api"].swap == 3000 * 1024
    assert [g.key for g in r.containers][0] == "podman:db"
    pods = {g.key: g.swap for g in r.pods}
    assert pods == {"shop/web-0": 12000 * 1024, "prod/api-1": 3000 * 1024}
    # the top limit cuts processes, not the total
    assert len(report(Attributor(Catalog(node)), top=2).processes) == 2


def test_whois_on_fake_proc(node):
    from pallet.debug.whois import whois

    a = Attributor(Catalog(node))
    w = whois(101, a, with_hostname=False)
    assert (w.runtime, w.container_id, w.pod_name, w.pod_namespace, w.pod_uid, w.qos) == (
        "docker", CID, "web-0", "shop", UID, "burstable")
    assert not w.host and w.cgroup_driver == "cgroupfs"
    # containerd is the first candidate of a bare kubepods id, and is absent here
    conmon = whois(201, a, with_hostname=False)
    assert conmon.role == "conmon" and conmon.name == "db"
    host = whois(400, a, with_hostname=False)
    assert host.host and host.cgroup == "/system.slice/sshd.service"
    orphan = whois(500, a, with_hostname=False)
    assert not orphan.host and orphan.runtime == "docker" and orphan.name == ""
    assert any("not in its state" in n for n in orphan.notes)
    crio = whois(300, a, with_hostname=False)
    assert (crio.runtime, crio.name, crio.pod_name, crio.cgroup_driver) == ("cri-o", "api", "api-1", "systemd")


def test_whois_cli_json_and_format(node, capsys):
    from pallet.cli.common import GlobalOptions
    from pallet.cli.debug import run

    opts = GlobalOptions(root=node.pallet_root)
    argv = ["--state-root", node.root, "--proc", node.proc, "whois", "--no-hostname"]
    assert run(opts, "debug", argv + ["--json", "100", "200"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["Runtime"] for d in doc] == ["docker", "podman"]
    assert doc[0]["PodName"] == "web-0" and doc[0]["ContainerID"] == CID
    assert run(opts, "debug", argv + ["-f", "{{.PodNamespace}}/{{.PodName}} {{.Runtime}}", "100"]) == 0
    assert capsys.readouterr().out == "shop/web-0 docker\n"
    assert run(opts, "debug", argv + ["99999"]) == 1


def test_swap_cli(node, capsys):
    from pallet.cli.common import GlobalOptions
    from pallet.cli.debug import run

    assert run(GlobalOptions(), "debug", ["--state-root", node.root, "--proc", node.proc, "swap", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "podman:db" in out and "shop/web-0" in out and "19.5MiB" in out


def test_caps_of_fake_pid_and_masks(node):
    from pallet.debug.caps import DOCKER_DEFAULT, of_argument

    r = of_argument("100", node.proc)
    eff = next(s for s in r.sets if s.field == "CapEff")
    assert set(eff.names) == DOCKER_DEFAULT and eff.added == () and eff.dropped == ()
    m = of_argument("0x00000000a80425fb", node.proc).sets[0]
    assert set(m.names) == DOCKER_DEFAULT
    # the seed's full set on a 3.10 kernel, and Docker's default plus SYS_TIME
    assert len(of_argument("0000003fffffffff").sets[0].names) == 38
    plus = of_argument(f"{0xa80425fb | 1 << 25:x}").sets[0]
    assert plus.added == ("SYS_TIME",) and plus.dropped == ()
    minus = of_argument("a80425fa").sets[0]
    assert minus.dropped == ("CHOWN",)


def test_caps_rejects_garbage():
    from pallet.debug.caps import of_argument
    from pallet.errors import InvalidArgument

    with pytest.raises(InvalidArgument):
        of_argument("xyz")


def test_enter_plan_defaults_to_all_but_mnt_and_skips_shared():
    from pallet.debug import enter

    p = enter.plan(os.getpid(), ["true"])
    # our own process shares every namespace with us: nothing to join
    assert p.types == () and "mnt" not in p.skipped and "net" in p.skipped
    p = enter.plan(os.getpid(), ["true"], frozenset({"net", "mnt"}))
    assert set(p.skipped) == {"net", "mnt"}
    with pytest.raises(Exception):
        enter.plan(os.getpid(), [])


@pytest.mark.parametrize("argv,types,cmd", [
    (["enter", "PID", "-m", "--", "ls", "-l"], {"mnt"}, ["ls", "-l"]),
    (["enter", "-t", "PID", "-n", "-u", "--", "ip", "a"], {"net", "uts"}, ["ip", "a"]),
    (["enter", "-t", "PID", "-n", "ip", "a"], {"net"}, ["ip", "a"]),
    (["enter", "PID", "--", "hostname", "-m"], None, ["hostname", "-m"]),
    (["enter", "-a", "PID", "--", "true"], {"user", "cgroup", "ipc", "uts", "net", "pid", "mnt", "time"}, ["true"]),
])
def test_enter_flags_after_the_target_are_ours(monkeypatch, argv, types, cmd):
    # regression: argparse's REMAINDER swallowed "-m" after the target, which ran the
    # command in the host's mount namespace
    from pallet.cli.common import GlobalOptions
    from pallet.cli.debug import run
    from pallet.debug import enter

    seen = {}
    monkeypatch.setattr(enter, "plan", lambda pid, argv, requested, proc: seen.update(
        pid=pid, argv=argv, requested=requested) or "PLAN")
    monkeypatch.setattr(enter, "run", lambda plan, proc: 0)
    pid = str(os.getpid())
    assert run(GlobalOptions(), "debug", [pid if a == "PID" else a for a in argv]) == 0
    assert seen["pid"] == int(pid) and seen["argv"] == cmd
    assert (set(seen["requested"]) if seen["requested"] else None) == types
