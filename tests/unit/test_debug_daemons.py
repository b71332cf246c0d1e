"""Private Docker and containerd dirs: daemon command lines, explicit roots, one record per container.

The command lines are the ones this VM's peers run (reference/peers-baseline.sh:
containerd with its own config.toml, dockerd with --data-root), the one
dockerd 20.10 uses for the containerd it starts itself, and daemon.json's
`data-root`. A fake /proc holds them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import test_debug_layouts as layouts  # noqa: E402

from pallet.debug import daemons  # noqa: E402
from pallet.debug.cgpath import identify  # noqa: E402
from pallet.debug.paths import HostPaths  # noqa: E402

CID = layouts.CID


def test_go_style_flags():
    argv = ["dockerd", "--data-root", "/a", "-H", "unix:///x", "--exec-root=/r"]
    assert daemons.flag(argv, "--data-root", "-g") == "/a"
    assert daemons.flag(argv, "--exec-root") == "/r"
    assert daemons.flag(["dockerd", "-g", "/old"], "--data-root", "-g", "--graph") == "/old"
    assert daemons.flag(["dockerd", "--data-root"], "--data-root") is None   # no value: ignored
    assert daemons.flag(["dockerd"], "--data-root") is None


def test_docker_root_from_flag_daemon_json_or_default(tmp_path):
    conf = tmp_path / "daemon.json"
    conf.write_text('{"data-root": "/srv/docker"}')
    assert daemons.docker_root(["dockerd", "--data-root=/x"]) == "/x"
    assert daemons.docker_root(["dockerd", "--config-file", str(conf)]) == "/srv/docker"
    assert daemons.docker_root(["dockerd", "--config-file", str(tmp_path / "none.json")]) == "/var/lib/docker"


def test_containerd_dirs_from_config_and_flags(tmp_path):
    conf = tmp_path / "config.toml"
    conf.write_text('version = 2\nroot = "/p/root"\nstate = "/p/state"\n[grpc]\n  address = "/p/c.sock"\n')
    assert daemons.containerd_dirs(["containerd", "--config", str(conf)]) == \
        daemons.ContainerdDirs(root="/p/root", state="/p/state")
    # flags override the file; what neither says stays the default
    assert daemons.containerd_dirs(["containerd", "-c", str(conf), "--state", "/s"]) == \
        daemons.ContainerdDirs(root="/p/root", state="/s")
    assert daemons.containerd_dirs(["containerd", "-c", str(tmp_path / "none.toml")]) == \
        daemons.ContainerdDirs(root="/var/lib/containerd", state="/run/containerd")


def _fake_proc(tmp_path, procs: dict[int, tuple[str, list[str]]]) -> str:
    proc = tmp_path / "proc"
    for pid, (comm, argv) in procs.items():
        d = proc / str(pid)
        d.mkdir(parents=True)
        (d / "comm").write_text(comm + "\n")
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
    return str(proc)


def test_discover_reads_only_the_daemons(tmp_path):
    conf = tmp_path / "ctd.toml"
    conf.write_text('root = "/tmp/dkd/ctd/root"\nstate = "/tmp/dkd/run/ctd/state"\n')
    proc = _fake_proc(tmp_path, {
        7: ("containerd", ["containerd", "--config", str(conf)]),
        9: ("dockerd", ["dockerd", "--containerd", "/tmp/dkd/run/ctd/ctd.sock", "--data-root", "/tmp/dkd/docker"]),
        12: ("sleep", ["sleep", "--data-root", "/nope"]),
        30: ("containerd-shim", ["/usr/bin/containerd-shim-runc-v2", "-namespace", "moby"]),
    })
    found = daemons.discover(proc)
    assert found.docker_roots == ("/tmp/dkd/docker",)
    assert found.containerd == (daemons.ContainerdDirs(root="/tmp/dkd/ctd/root", state="/tmp/dkd/run/ctd/state"),)


def test_explicit_roots_replace_the_defaults(tmp_path):
    p = HostPaths(docker_data_root=str(tmp_path / "d"), containerd_root="/cr", containerd_state="/cs")
    assert p.docker_root == p.docker_roots[0] == str(tmp_path / "d") and len(p.docker_roots) == 1
    assert p.containerd_dirs == (daemons.ContainerdDirs(root="/cr", state="/cs"),)
    assert p.containerd_tasks == "/cs/io.containerd.runtime.v2.task"
    # a fake node never looks at the real node's daemons
    node = HostPaths(root=str(tmp_path / "node"))
    assert node.docker_roots == (str(tmp_path / "node/var/lib/docker"),)
    assert node.containerd_dirs == (daemons.ContainerdDirs(root=str(tmp_path / "node/var/lib/containerd"),
                                                           state=str(tmp_path / "node/run/containerd")),)


def test_defaults_first_then_running_daemons(tmp_path):
    proc = _fake_proc(tmp_path, {
        5: ("dockerd", ["dockerd", "--data-root", "/var/lib/docker"]),   # the default, said twice
        6: ("dockerd", ["dockerd", "--data-root", "/srv/d2"]),
    })
    p = HostPaths(proc=proc)
    assert p.docker_roots == ("/var/lib/docker", "/srv/d2")
    assert HostPaths(proc=proc, discover=False).docker_roots == ("/var/lib/docker",)


def test_a_private_docker_root_is_read(tmp_path):
    from pallet.debug.sources import docker

    node = HostPaths(root=str(tmp_path / "node"))
    private = HostPaths(root=str(tmp_path / "node"), docker_data_root=str(tmp_path / "private"))
    layouts.docker_container(private, CID, name="web", pid=4242)
    assert docker.load(node).records == ()
    (r,) = docker.load(private).records
    assert (r.name, r.pid, r.source) == ("web", 4242, f"{tmp_path}/private/containers/{CID}/config.v2.json")


def test_dockers_containers_are_not_listed_again_as_containerds(tmp_path):
    from pallet.debug.catalog import Catalog
    from pallet.debug.fsusage import usage

    paths = HostPaths(root=str(tmp_path / "node"), pallet_root=str(tmp_path / "p"))
    layouts.docker_container(paths, CID, name="web", pid=4242, files={"greeting": b"hello\n"})
    # dockerd runs it through containerd, namespace moby; a ctr container in moby stays containerd's
    layouts.containerd_task(paths, CID, namespace="moby", pid=4242)
    layouts.containerd_task(paths, "4" * 64, namespace="moby", pid=4343)
    catalog = Catalog(paths)
    assert catalog.find(CID[:12]).runtime == "docker"
    assert sorted((r.runtime, r.id[:4]) for r in catalog.all()) == [("containerd", "4444"), ("docker", CID[:4])]
    rows, _ = usage(catalog)
    (web,) = [r for r in rows if r.name == "web"]
    # docker ps -s counts file lengths (6 bytes), du counts blocks
    assert web.apparent_size == 6 and web.size >= 6


def test_ctr_run_ids_are_containerd_containers():
    # `ctr -n k8s.io run IMAGE web-1` names the container (and its cgroup) web-1
    o = identify("/k8s.io/web-1")
    assert (o.runtimes, o.container_id, o.driver) == (("containerd",), "web-1", "cgroupfs")
    assert identify("/default/my.app_2/sub").container_id == "my.app_2"
    assert not identify("/other/web-1").is_container
    assert not identify("/k8s.io/-bad").is_container
    assert os.path.basename(identify(f"/k8s.io/{CID}").container_cgroup) == CID


def test_containerd_config_top_level_strings(tmp_path):
    conf = tmp_path / "config.toml"
    conf.write_text('# containerd config default\nversion = 2\nroot = "/r" # data\nstate = \'/s\'\n'
                    'oom_score = 0\n[grpc]\n  address = "/g.sock"\nroot = "/not-top-level"\n')
    assert daemons._toml_top_strings(str(conf)) == {"root": "/r", "state": "/s"}
