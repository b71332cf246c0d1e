"""The v2 manager on the real cgroup2 mount of this hybrid host.

/sys/fs/cgroup/unified is a real cgroup2 hierarchy that owns only the
hugetlb controller, so a V2Manager rooted there runs for real:
cgroup.procs, cgroup.freeze + cgroup.events, cgroup.kill, hugetlb.*, and
BPF device programs. (memory/cpu/io/pids/cpuset on v2 are checked on a
temporary tree: tests/unit/test_cgroups_v2_fake.py.)
"""

from __future__ import annotations

import os
import signal
import time

import pytest

from cgroup_helpers import cpu_ticks, requires_unified_hugetlb, start_in, stop
from pallet.cgroups import CgroupMode, manager_from_json, open_manager
from pallet.cgroups.v2 import devices as v2_devices
from pallet.errors import Unavailable

UNIFIED = "/sys/fs/cgroup/unified"
pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root"),
    pytest.mark.skipif(not os.path.exists(f"{UNIFIED}/cgroup.controllers"), reason="needs a cgroup2 mount at ./unified"),
]
MiB = 1 << 20


@pytest.fixture
def mgr(cgroup_path):
    m = open_manager(f"{cgroup_path}/c", "c", root=UNIFIED, mode=CgroupMode.V2)
    m.create()
    yield m
    m.destroy(kill=True)


@requires_unified_hugetlb
def test_create_enables_hugetlb_in_parents(mgr, cgroup_path):
    assert "hugetlb" in open(f"{UNIFIED}{cgroup_path}/cgroup.subtree_control").read().split()
    assert "hugetlb" in mgr.controllers()


@requires_unified_hugetlb
def test_hugetlb_limit_and_stats(mgr, cgroup_path):
    mgr.apply({"hugepageLimits": [{"pageSize": "2MB", "limit": 8 * MiB}]})
    assert open(f"{UNIFIED}{cgroup_path}/c/hugetlb.2MB.max").read().strip() == str(8 * MiB)
    h = mgr.stats().hugetlb["2MB"]
    assert h.max == 8 * MiB and h.usage == 0


def test_controllers_missing_here_are_errors(mgr):
    with pytest.raises(Unavailable, match="memory controller is not enabled"):
        mgr.apply({"memory": {"limit": 64 * MiB}})


def test_freeze_stops_busy_loop(mgr):
    p = start_in(mgr, ["sh", "-c", "while :; do :; done"])
    try:
        time.sleep(0.2)
        mgr.freeze()
        assert mgr.is_frozen()
        before = cpu_ticks(p.pid)
        time.sleep(0.5)
        assert cpu_ticks(p.pid) == before
        mgr.thaw()
        time.sleep(0.5)
        assert not mgr.is_frozen() and cpu_ticks(p.pid) > before
    finally:
        mgr.thaw()
        stop(p)


def test_cgroup_kill_and_populated(mgr, cgroup_path):
    procs = [start_in(mgr, ["sleep", "60"]) for _ in range(3)]
    events = f"{UNIFIED}{cgroup_path}/c/cgroup.events"
    assert "populated 1" in open(events).read()
    manager_from_json(mgr.to_json()).kill_all(signal.SIGKILL)   # one write to cgroup.kill
    for p in procs:
        p.communicate(timeout=5)
        assert p.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 5
    while "populated 1" in open(events).read() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "populated 0" in open(events).read()
    mgr.destroy()
    assert not mgr.exists()


def test_bpf_device_program_default_rules(mgr, tmp_path):
    mgr.apply({})   # the default device program is attached
    assert len(v2_devices.attached(mgr.dir_)) == 1
    node = tmp_path / "blk"
    p = start_in(mgr, ["sh", "-c", f"cat /dev/null && echo null-ok; head -c1 /dev/kmsg >/dev/null 2>&1 || echo kmsg-denied;"
                                   f" mknod {node} b 7 0 && echo mknod-ok; head -c1 {node} >/dev/null 2>&1 || echo open-denied"])
    out, _ = p.communicate(timeout=10)
    assert out.split() == ["null-ok", "kmsg-denied", "mknod-ok", "open-denied"]


def test_bpf_device_program_replaced_on_update(mgr):
    mgr.apply({"devices": [{"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]},
              default_devices=False)
    first = v2_devices.attached(mgr.dir_)
    p = start_in(mgr, ["sh", "-c", "cat /dev/null 2>/dev/null || echo null-denied"])
    assert p.communicate(timeout=10)[0].split() == ["null-denied"]
    mgr.apply({})   # update: the defaults allow /dev/null again; the old program goes
    second = v2_devices.attached(mgr.dir_)
    assert len(second) == 1 and second != first
    p = start_in(mgr, ["sh", "-c", "cat /dev/null && echo null-ok"])
    assert p.communicate(timeout=10)[0].split() == ["null-ok"]


def test_stats_on_real_v2(mgr):
    p = start_in(mgr, ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
    p.communicate(timeout=30)
    s = mgr.stats()
    assert s.cpu.usage.total > 0 and s.cpu.usage.user + s.cpu.usage.kernel > 0


def test_bpf_load_error_carries_the_verifier_log():
    from pallet.linux import bpf

    # r0 = 1 without an exit: the verifier refuses to fall off the end
    with pytest.raises(OSError, match="verifier:"):
        bpf.prog_load("BPF_PROG_TYPE_CGROUP_DEVICE", bytes([0xB7, 0, 0, 0, 1, 0, 0, 0]))


def test_large_device_rule_set_loads(mgr):
    rules = [{"allow": True, "type": "c", "major": 200 + i // 100, "minor": i % 100, "access": "rw"} for i in range(400)]
    mgr.apply({"devices": rules})
    assert len(v2_devices.attached(mgr.dir_)) == 1


@requires_unified_hugetlb
def test_unknown_huge_page_size_names_the_field(mgr):
    with pytest.raises(Unavailable, match=r"hugepageLimits\[0\].pageSize: 4MB is not a huge page size of this host \(1GB, 2MB\)"):
        mgr.apply({"hugepageLimits": [{"pageSize": "4MB", "limit": 0}]})
