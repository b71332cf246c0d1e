"""The v2 manager against a temporary tree with the files a v2 kernel has.

This machine's cgroup2 mount owns only hugetlb, so memory/cpu/io/pids/
cpuset on v2 are checked here: the right files get the right values, the
parents get their controllers enabled, stats parse the kernel's formats.
(Freeze, kill, events, hugetlb and BPF devices run on the real cgroup2
mount in tests/integration/test_cgroups_unified.py.)
"""

import pytest

from pallet.cgroups import CgroupMode, manager_from_json, open_manager
from pallet.errors import Unavailable

CONTROLLERS = "cpuset cpu io memory hugetlb pids"
LEAF_FILES = {
    "cgroup.controllers": CONTROLLERS, "cgroup.procs": "", "cgroup.subtree_control": "",
    "cgroup.freeze": "0", "cgroup.events": "populated 1\nfrozen 0\n", "cgroup.kill": "",
    "memory.max": "max", "memory.low": "0", "memory.swap.max": "max", "memory.current": "1048576",
    "memory.peak": "2097152", "memory.swap.current": "4096",
    "memory.stat": "anon 524288\nfile 262144\ninactive_file 131072\nactive_file 131072\n",
    "memory.events": "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    "cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0",
    "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 300\n",
    "cpuset.cpus": "", "cpuset.mems": "", "pids.max": "max", "pids.current": "3",
    "io.weight": "default 100", "io.max": "", "io.stat": "7:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n",
    "hugetlb.2MB.max": "max", "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0\n",
    "memory.high": "max",
}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "cgroup"
    leaf = root / "pallet" / "c1"
    leaf.mkdir(parents=True)
    for d in (root, root / "pallet"):
        (d / "cgroup.controllers").write_text(CONTROLLERS)
        (d / "cgroup.subtree_control").write_text("")
    for name, text in LEAF_FILES.items():
        (leaf / name).write_text(text)
    return root


def mgr(tree, **kw):
    return open_manager(None, "c1", root=str(tree), mode=CgroupMode.V2, **kw)


def test_apply_writes_v2_files(tree):
    m = mgr(tree)
    m.create()
    warnings = m.apply({
        "memory": {"limit": 104857600, "swap": 209715200, "reservation": 52428800, "swappiness": 60},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "blockIO": {"throttleReadBpsDevice": [{"major": 7, "minor": 0, "rate": 1048576}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
        "unified": {"memory.high": "90000000"},
    }, default_devices=False)
    leaf = tree / "pallet" / "c1"
    got = {f: (leaf / f).read_text() for f in ("memory.max", "memory.swap.max", "memory.low", "cpu.weight",
                                              "cpu.max", "cpuset.cpus", "pids.max", "io.max", "hugetlb.2MB.max",
                                              "memory.high")}
    assert got == {"memory.max": "104857600", "memory.swap.max": "104857600", "memory.low": "52428800",
                   "cpu.weight": "100", "cpu.max": "50000 100000", "cpuset.cpus": "0", "pids.max": "20",
                   "io.max": "7:0 rbps=1048576", "hugetlb.2MB.max": "2097152", "memory.high": "90000000"}
    assert any("swappiness" in w for w in warnings)
    # every controller was enabled in the parents (one write each; the fake keeps the last)
    assert (tree / "cgroup.subtree_control").read_text().startswith("+")


def test_missing_controller_is_an_error_naming_it(tree):
    (tree / "pallet" / "c1" / "cgroup.controllers").write_text("memory pids")
    m = mgr(tree)
    with pytest.raises(Unavailable, match="the cpu controller is not enabled"):
        m.apply({"memory": {"limit": 1000000}, "cpu": {"quota": 1000}}, default_devices=False)
    # checked before any write: the memory limit was not set either
    assert (tree / "pallet" / "c1" / "memory.max").read_text() == "max"


def test_realtime_refused_on_v2(tree):
    with pytest.raises(Unavailable, match="realtimeRuntime"):
        mgr(tree).apply({"cpu": {"realtimeRuntime": 1000}}, default_devices=False)


def test_stats_parse(tree):
    s = mgr(tree).stats()
    assert s.cpu.usage.total == 1_500_000 and s.cpu.usage.user == 1_000_000
    assert s.cpu.throttling.throttled_periods == 2 and s.cpu.throttling.throttled_time == 300_000
    assert s.memory.usage.usage == 1048576 and s.memory.usage.max == 2097152 and s.memory.usage.failcnt == 3
    assert s.memory.oom_kill == 1 and s.memory.cache == 262144 and s.memory.version == "v2"
    assert s.pids.current == 3 and s.pids.limit == 0
    assert s.blkio.io_service_bytes_recursive[0].value == 4096
    assert s.hugetlb["2MB"].usage == 0
    j = s.to_json()
    assert j["cpu"]["usage"]["total"] == 1_500_000 and j["pids"] == {"current": 3}


def test_json_roundtrip(tree):
    m = mgr(tree, systemd=None)
    again = manager_from_json(m.to_json())
    assert again.to_json() == m.to_json() and again.dir_ == str(tree / "pallet" / "c1")


def test_freeze_reads_events(tree):
    # the fake kernel "freezes" at once: cgroup.events says frozen 1
    m = mgr(tree)
    (tree / "pallet" / "c1" / "cgroup.events").write_text("populated 1\nfrozen 1\n")
    m.freeze()
    assert (tree / "pallet" / "c1" / "cgroup.freeze").read_text() == "1" and m.is_frozen()


def test_kill_all_uses_cgroup_kill(tree):
    m = mgr(tree)
    m.kill_all(9)
    assert (tree / "pallet" / "c1" / "cgroup.kill").read_text() == "1"
