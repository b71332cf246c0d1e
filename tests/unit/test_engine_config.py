"""Planners and parsers of the container engine: no root, no kernel."""

from __future__ import annotations

import json
import os

import pytest

from pallet.engine import config as c
from pallet.engine import daemon_config, names, spec_builder
from pallet.engine.config import ContainerConfig, Resources, Ulimit
from pallet.errors import InvalidArgument, NotFound


def cfg(**kw) -> ContainerConfig:
    base = dict(id="a" * 64, name="web", image="busybox", cmd=("sh",))
    base.update(kw)
    return ContainerConfig(**base)


def plan(config: ContainerConfig, **resolved) -> dict:
    r = spec_builder.Resolved(rootfs="/r", bind_sources=tuple(m.source for m in config.mounts), **resolved)
    return spec_builder.build_spec(config, r, spec_builder.HostFacts(hard_limits={"RLIMIT_NOFILE": 20000, "RLIMIT_CORE": -1}))


@pytest.mark.parametrize("text,value", [("512", 512), ("64m", 64 << 20), ("1g", 1 << 30), ("1.5GiB", 3 << 29), ("10k", 10240)])
def test_parse_size(text, value):
    assert c.parse_size(text, "--memory") == value


def test_parse_size_names_the_flag():
    with pytest.raises(InvalidArgument, match="--memory"):
        c.parse_size("lots", "--memory")


def test_ulimits():
    assert c.parse_ulimit("core=0") == Ulimit("core", 0, 0)
    assert c.parse_ulimit("nofile=1024:2048") == Ulimit("nofile", 1024, 2048)
    for bad in ("core", "bogus=1", "nofile=2:1", "nofile=x"):
        with pytest.raises(InvalidArgument):
            c.parse_ulimit(bad)


def test_volume_flags():
    assert c.parse_volume_flag("/host:/ctr:ro") == c.MountSpec(type="bind", source="/host", destination="/ctr", readonly=True)
    assert c.parse_volume_flag("data:/d").type == "volume"
    assert c.parse_volume_flag("/anon") == c.MountSpec(type="volume", source="", destination="/anon")
    with pytest.raises(InvalidArgument, match="invalid volume name"):
        c.parse_volume_flag("bad$name:/d")
    with pytest.raises(InvalidArgument):
        c.parse_volume_flag("/h:relative")
    m = c.parse_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m")
    assert m.type == "tmpfs" and "size=1048576" in m.options


def test_restart_policy():
    assert c.parse_restart("on-failure:3") == c.RestartPolicy(name="on-failure", max_retries=3)
    with pytest.raises(InvalidArgument):
        c.parse_restart("always:3")
    with pytest.raises(InvalidArgument):
        c.parse_restart("sometimes")


def test_config_round_trips_through_json():
    x = cfg(mounts=(c.MountSpec(type="bind", source="/a", destination="/b", options=("z",)),),
            ulimits=(Ulimit("core", 0, 0),), resources=Resources(memory=1 << 20), labels=(("k", "v"),))
    assert ContainerConfig.from_json(x.to_json()) == x


def test_names_and_prefixes():
    assert names.validate_name("/web-1.a_b") == "web-1.a_b"
    for bad in ("a", "bad name", "-x", ""):
        with pytest.raises(InvalidArgument):
            names.validate_name(bad)
    assert names.pick("ab", [("ab12", "x")]) == "ab12"
    with pytest.raises(NotFound, match="no such container: zz"):
        names.pick("zz", [])
    with pytest.raises(InvalidArgument, match=r"ambiguous.*ab1.*ab2"):
        names.pick("ab", [("ab1" + "0" * 10, "x"), ("ab2" + "0" * 10, "y")])
    assert len(names.new_id()) == 64


def test_default_caps_masked_paths_and_mounts():
    s = plan(cfg())
    caps = s["process"]["capabilities"]["bounding"]
    assert "CAP_CHOWN" in caps and "CAP_SYS_ADMIN" not in caps and len(caps) == 14
    assert "/proc/kcore" in s["linux"]["maskedPaths"] and "/proc/sys" in s["linux"]["readonlyPaths"]
    dests = [m["destination"] for m in s["mounts"]]
    assert dests[:4] == ["/proc", "/dev", "/dev/pts", "/sys"] and "/dev/shm" in dests
    assert {n["type"] for n in s["linux"]["namespaces"]} == {"mount", "cgroup", "network", "pid", "ipc", "uts"}
    assert s["hostname"] == "a" * 12


def test_cap_add_drop_and_privileged():
    s = plan(cfg(cap_add=("sys_time",), cap_drop=("CAP_CHOWN",)))
    caps = s["process"]["capabilities"]["effective"]
    assert "CAP_SYS_TIME" in caps and "CAP_CHOWN" not in caps
    assert plan(cfg(cap_drop=("ALL",)))["process"]["capabilities"]["effective"] == []
    assert plan(cfg(cap_drop=("ALL",), cap_add=("NET_RAW",)))["process"]["capabilities"]["effective"] == ["CAP_NET_RAW"]
    p = plan(cfg(privileged=True))
    assert "maskedPaths" not in p["linux"] and len(p["process"]["capabilities"]["bounding"]) == len(spec_builder.ALL_CAPS)
    with pytest.raises(InvalidArgument, match="unknown capability"):
        plan(cfg(cap_add=("NOPE",)))


def test_host_bounding_set_limits_privileged():
    r = spec_builder.Resolved(rootfs="/r")
    host = spec_builder.HostFacts(bounding_caps=tuple(x for x in spec_builder.ALL_CAPS if x != "CAP_SYS_RESOURCE"))
    caps = spec_builder.build_spec(cfg(privileged=True), r, host)["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_RESOURCE" not in caps and "CAP_SYS_ADMIN" in caps


def test_ulimits_within_host_hard_limit():
    s = plan(cfg(ulimits=(Ulimit("core", 0, 0),)))
    rl = {r["type"]: (r["soft"], r["hard"]) for r in s["process"]["rlimits"]}
    assert rl["RLIMIT_CORE"] == (0, 0)
    assert rl["RLIMIT_NOFILE"] == (1024, 20000)  # Docker's 1024:524288, clamped to this host
    with pytest.raises(InvalidArgument, match="hard limit 20000"):
        plan(cfg(ulimits=(Ulimit("nofile", 100, 30000),)))
    s = plan(cfg(), default_ulimits=(Ulimit("core", 0, 0),))
    assert {r["type"]: r["soft"] for r in s["process"]["rlimits"]}["RLIMIT_CORE"] == 0


def test_resources_plan():
    r = plan(cfg(resources=Resources(memory=64 << 20, nano_cpus=500_000_000, pids_limit=10)))["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert r["cpu"] == {"period": 100000, "quota": 50000}
    assert r["pids"] == {"limit": 10}


def test_namespace_modes_and_read_only():
    s = plan(cfg(network_mode="host", pid_mode="host", ipc_mode="host", read_only=True))
    kinds = {n["type"] for n in s["linux"]["namespaces"]}
    assert kinds == {"mount", "cgroup"} and "hostname" not in s and s["root"]["readonly"] is True
    s = plan(cfg(network_mode="container:abc"), netns_path="/proc/42/ns/net")
    assert {"type": "network", "path": "/proc/42/ns/net"} in s["linux"]["namespaces"]


def test_seccomp_only_when_confined():
    prof = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}
    assert plan(cfg(), seccomp=prof)["linux"]["seccomp"] == prof
    assert "seccomp" not in plan(cfg(privileged=True), seccomp=prof)["linux"]


def test_daemon_json_keys():
    d = daemon_config.parse(json.dumps({"default-ulimits": {"core": {"Name": "core", "Hard": 0, "Soft": 0}},
                                        "default-runtime": "runc", "log-opts": {"max-size": "1m", "max-file": "2"},
                                        "live-restore": True, "registry-mirrors": ["https://m"], "bridge": "none"}))
    assert d.default_ulimits == (Ulimit("core", 0, 0),) and d.default_runtime == "runc"
    assert d.log_max_size == 1 << 20 and d.log_max_file == 2 and d.registry_mirrors == ("https://m",)
    with pytest.raises(InvalidArgument, match="unknown configuration key.*nope"):
        daemon_config.parse('{"nope": 1}')
    with pytest.raises(InvalidArgument, match="invalid JSON"):
        daemon_config.parse("{")
    assert daemon_config.parse("").log_max_size == 10 << 20  # a size limit by default


def test_json_file_log_rotation(tmp_path):
    from pallet.engine.monitor.monitor import JsonFileLog

    path = str(tmp_path / "c-json.log")
    log = JsonFileLog(path, max_size=500, max_file=3)
    for i in range(100):
        log.write("stdout", b"line %d\n" % i)
    log.write("stderr", b"partial")
    log.flush()
    files = sorted(os.listdir(tmp_path))
    assert files == ["c-json.log", "c-json.log.1", "c-json.log.2"]
    recs = [json.loads(line) for line in open(path)]
    assert recs[-1] == {"log": "partial", "stream": "stderr", "time": recs[-1]["time"]}
    assert recs[-2]["log"] == "line 99\n" and recs[-2]["time"].endswith("Z")
    assert all(os.path.getsize(tmp_path / f) <= 500 for f in files)


def test_json_file_log_splits_long_lines(tmp_path):
    from pallet.engine.monitor.monitor import JsonFileLog

    log = JsonFileLog(str(tmp_path / "l"), 0, 1)
    log.write("stdout", b"x" * 40000 + b"\n")
    recs = [json.loads(line) for line in open(tmp_path / "l")]
    assert [len(r["log"]) for r in recs] == [16384, 16384, 40000 - 32768 + 1]


def test_monitor_imports_only_small_modules():
    import subprocess
    import sys

    from pallet.engine.monitor import MONITOR_PY

    code = ("import sys; sys.path[0:0]=[%r]; import monitor; "
            "print(' '.join(sorted(sys.modules)))" % os.path.dirname(MONITOR_PY))
    mods = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=True).stdout.split()
    for heavy in ("json", "re", "asyncio", "selectors", "socket", "ctypes", "subprocess", "signal", "pallet"):
        assert heavy not in mods, heavy
