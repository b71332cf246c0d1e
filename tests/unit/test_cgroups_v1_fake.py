"""The v1 manager against a temporary tree standing for a v1 host whose
hierarchies this machine doesn't have: cpu and cpuacct co-mounted
("cpu,cpuacct", the common layout), hugetlb and net_cls as v1
hierarchies, no cgroup2 mount. (This machine's real layout runs in
tests/integration/test_cgroups_v1.py.)
"""

import pytest

from pallet.cgroups import CgroupMode, manager_from_json, open_manager
from pallet.errors import Unavailable

HIERARCHIES = {
    "cpu,cpuacct": {"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1",
                    "cpu.stat": "nr_periods 4\nnr_throttled 1\nthrottled_time 500\n",
                    "cpuacct.usage": "3000", "cpuacct.usage_percpu": "1000 2000 ",
                    "cpuacct.stat": "user 10\nsystem 5\n"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
               "memory.soft_limit_in_bytes": "0", "memory.usage_in_bytes": "4096", "memory.stat": "cache 0\ntotal_inactive_file 0\n",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"},
    "pids": {"pids.max": "max", "pids.current": "1"},
    "hugetlb": {"hugetlb.2MB.limit_in_bytes": "0", "hugetlb.2MB.usage_in_bytes": "0"},
    "net_cls": {"net_cls.classid": "0"},
    "freezer": {"freezer.state": "THAWED"},
    "devices": {"devices.allow": "", "devices.deny": ""},
}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "cgroup"
    for name, files in HIERARCHIES.items():
        (root / name).mkdir(parents=True)
        (root / name / "cgroup.procs").write_text("")
        if name == "cpuset":
            (root / name / "cpuset.cpus").write_text("0-3")
            (root / name / "cpuset.mems").write_text("0")
        leaf = root / name / "pallet" / "c1"
        leaf.mkdir(parents=True)
        if name == "cpuset":
            for f in ("cpuset.cpus", "cpuset.mems"):
                (root / name / "pallet" / f).write_text("")
        (leaf / "cgroup.procs").write_text("")
        for f, text in files.items():
            (leaf / f).write_text(text)
    return root


def mgr(tree):
    return open_manager(None, "c1", root=str(tree), mode=CgroupMode.V1)


def test_discovers_comounted_hierarchies(tree):
    m = mgr(tree)
    assert m.dir("cpu") == m.dir("cpuacct") == str(tree / "cpu,cpuacct" / "pallet" / "c1")
    assert m.unified is None and m.version == "v1"


def test_create_copies_cpuset_down(tree):
    mgr(tree).create()
    assert (tree / "cpuset" / "pallet" / "cpuset.cpus").read_text() == "0-3"
    assert (tree / "cpuset" / "pallet" / "c1" / "cpuset.mems").read_text() == "0"


def test_apply_across_hierarchies(tree):
    m = mgr(tree)
    warnings = m.apply({"memory": {"limit": 1 << 20, "swap": 2 << 20, "kernel": 1 << 20}, "cpu": {"quota": 5000},
                        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
                        "network": {"classID": 7}, "pids": {"limit": 4}})
    leaf = lambda h, f: (tree / h / "pallet" / "c1" / f).read_text()  # noqa: E731
    assert leaf("memory", "memory.limit_in_bytes") == str(1 << 20)
    assert leaf("memory", "memory.memsw.limit_in_bytes") == str(2 << 20)
    assert leaf("cpu,cpuacct", "cpu.cfs_quota_us") == "5000"
    assert leaf("hugetlb", "hugetlb.2MB.limit_in_bytes") == "2097152"
    assert leaf("net_cls", "net_cls.classid") == "7"
    assert leaf("pids", "pids.max") == "4"
    assert leaf("devices", "devices.allow").startswith("c 10:200")   # the fake keeps the last write
    assert any("memory.kernel" in w for w in warnings)


def test_missing_hierarchy_error_or_warning(tree):
    m = mgr(tree)
    with pytest.raises(Unavailable, match="the blkio controller is not mounted"):
        m.apply({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}})
    with pytest.raises(Unavailable, match="the rdma controller is not mounted"):
        m.apply({"rdma": {"mlx4_0": {"hcaHandles": 1}}})
    assert any("net_prio" in w for w in m.apply({"network": {"priorities": [{"name": "lo", "priority": 1}]}}))


def test_unified_needs_a_cgroup2_mount(tree):
    with pytest.raises(Exception, match="linux.resources.unified"):
        mgr(tree).apply({"unified": {"memory.high": "1"}})


def test_stats_and_roundtrip(tree):
    m = manager_from_json(mgr(tree).to_json())
    s = m.stats()
    assert s.cpu.usage.total == 3000 and s.cpu.usage.percpu == (1000, 2000)
    assert s.cpu.usage.user == 10 * (10**9 // 100) or s.cpu.usage.user > 0
    assert s.cpu.throttling.throttled_periods == 1
    assert s.memory.oom_kill == 2 and m.oom_kill_count() == 2
    assert s.pids.current == 1 and "2MB" in s.hugetlb
