"""Pure plans of every v1 and v2 controller: the files and values written."""

import pytest

from pallet.cgroups.v1 import blkio, cpu as cpu1, cpuset, hugetlb as huge1, memory as mem1, net_cls, net_prio
from pallet.cgroups.v1 import pids as pids1
from pallet.cgroups.v2 import cpu as cpu2, hugetlb as huge2, io, memory as mem2, unified
from pallet.errors import InvalidArgument
from pallet.oci.resources import LinuxResources


def R(**doc):
    return LinuxResources.from_json(doc)


# --- memory -----------------------------------------------------------------

def test_v1_memory_plan():
    p = mem1.plan(R(memory={"limit": 100, "swap": 200, "reservation": 50, "swappiness": 0,
                            "disableOOMKiller": True, "kernelTCP": 10}))
    assert p == [("memory.limit_in_bytes", "100"), ("memory.memsw.limit_in_bytes", "200"),
                 ("memory.soft_limit_in_bytes", "50"), ("memory.kmem.tcp.limit_in_bytes", "10"),
                 ("memory.swappiness", "0"), ("memory.oom_control", "1")]


def test_v1_unlimited_memory_makes_swap_unlimited():
    assert mem1.plan(R(memory={"limit": -1})) == [("memory.limit_in_bytes", "-1"),
                                                  ("memory.memsw.limit_in_bytes", "-1")]


def test_v1_memory_order_when_raising():
    p = mem1.plan(R(memory={"limit": 300, "swap": 400}))
    # current limit 100 < new swap 400: memsw first, or the kernel refuses limit > memsw
    assert [k for k, _ in mem1.order(p, 100)] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]
    # lowering: limit first
    assert [k for k, _ in mem1.order(mem1.plan(R(memory={"limit": 10, "swap": 20})), 100)] == \
        ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]


def test_v1_swappiness_minus_one_is_unset():
    assert mem1.plan(R(memory={"swappiness": -1})) == []


@pytest.mark.parametrize("swap,limit,expected", [
    (None, None, None), (0, 100, None), (-1, 100, -1), (300, 100, 200), (100, 100, 0), (None, -1, -1),
])
def test_v2_swap_conversion(swap, limit, expected):
    assert mem2.swap_max(swap, limit) == expected


def test_v2_swap_without_limit_refused():
    with pytest.raises(InvalidArgument, match="memory.swap"):
        mem2.swap_max(100, 0)


def test_v2_memory_plan():
    assert mem2.plan(R(memory={"limit": 100, "swap": 300, "reservation": 50})) == [
        ("memory.swap.max", "200"), ("memory.max", "100"), ("memory.low", "50")]
    assert mem2.plan(R(memory={"limit": -1})) == [("memory.swap.max", "max"), ("memory.max", "max")]


# --- cpu ----------------------------------------------------------------------

def test_v1_cpu_plan_period_before_quota():
    p = cpu1.plan(R(cpu={"shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 1000,
                         "realtimePeriod": 10000, "idle": 1, "burst": 500}))
    assert p == [("cpu.shares", "512"), ("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000"),
                 ("cpu.cfs_burst_us", "500"), ("cpu.rt_period_us", "10000"), ("cpu.rt_runtime_us", "1000"),
                 ("cpu.idle", "1")]


@pytest.mark.parametrize("shares,weight", [(0, 0), (2, 1), (1024, 100), (262144, 10000), (512, 59), (4096, 303),
                                           (100000, 4340), (2000, 170)])
def test_shares_to_weight(shares, weight):
    # runc >= 1.3.2 / crun >= 1.23 quadratic mapping; 1024 (default) -> 100 (default)
    assert cpu2.shares_to_weight(shares) == weight


def test_shares_to_weight_linear_of_older_runc():
    assert [cpu2.shares_to_weight_linear(s) for s in (2, 1024, 2000, 262144)] == [1, 39, 77, 10000]


@pytest.mark.parametrize("quota,period,expected", [
    (50000, 100000, "50000 100000"), (-1, 100000, "max 100000"), (50000, None, "50000"),
    (None, 20000, "max 20000"), (None, None, None)])
def test_cpu_max(quota, period, expected):
    assert cpu2.cpu_max(quota, period) == expected


def test_v2_cpu_plan():
    assert cpu2.plan(R(cpu={"shares": 1024, "quota": 20000, "period": 100000, "idle": 0})) == [
        ("cpu.weight", "100"), ("cpu.max", "20000 100000"), ("cpu.idle", "0")]


def test_cpuset_plan():
    assert cpuset.plan(R(cpu={"cpus": "0-1", "mems": "0"})) == [("cpuset.cpus", "0-1"), ("cpuset.mems", "0")]


# --- pids, hugetlb, net ---------------------------------------------------------

@pytest.mark.parametrize("limit,expected", [(10, [("pids.max", "10")]), (-1, [("pids.max", "max")]), (0, [])])
def test_pids_plan(limit, expected):
    assert pids1.plan(R(pids={"limit": limit})) == expected


def test_hugetlb_plans():
    r = R(hugepageLimits=[{"pageSize": "2MB", "limit": 4194304}, {"pageSize": "1GB", "limit": 0}])
    assert huge1.plan(r) == [("hugetlb.2MB.limit_in_bytes", "4194304"), ("hugetlb.1GB.limit_in_bytes", "0")]
    assert huge2.plan(r) == [("hugetlb.2MB.max", "4194304"), ("hugetlb.1GB.max", "0")]


def test_net_plans():
    r = R(network={"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 5}, {"name": "lo", "priority": 1}]})
    assert net_cls.plan(r) == [("net_cls.classid", "1048577")]
    assert net_prio.plan(r) == [("net_prio.ifpriomap", "eth0 5"), ("net_prio.ifpriomap", "lo 1")]


# --- block I/O ----------------------------------------------------------------------

BIO = dict(blockIO={"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 0}],
                    "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 20}]})


def test_v1_blkio_plan_one_write_per_device():
    assert blkio.plan(R(**BIO)) == [
        ("blkio.weight", "500"), ("blkio.weight_device", "8:0 100"),
        ("blkio.throttle.read_bps_device", "8:0 1048576"), ("blkio.throttle.write_bps_device", "8:16 0"),
        ("blkio.throttle.read_iops_device", "8:0 10"), ("blkio.throttle.write_iops_device", "8:0 20")]


def test_v2_io_plan():
    assert io.plan(R(**BIO)) == [
        ("io.weight", "4950"), ("io.weight", "8:0 910"),
        ("io.max", "8:0 rbps=1048576"), ("io.max", "8:16 wbps=max"),
        ("io.max", "8:0 riops=10"), ("io.max", "8:0 wiops=20")]
    assert io.plan(R(**BIO), bfq=True)[:2] == [("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 100")]


@pytest.mark.parametrize("w,expected", [(10, 1), (1000, 10000), (500, 4950), (0, 0)])
def test_blkio_to_io_weight(w, expected):
    assert io.blkio_to_io_weight(w) == expected


def test_io_stat_parse():
    s = io.parse_io_stat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n")
    assert [(e.op, e.value) for e in s.io_service_bytes_recursive] == [("Read", 4096), ("Write", 8192)]
    assert [(e.op, e.value) for e in s.io_serviced_recursive] == [("Read", 1), ("Write", 2)]


def test_blkio_stat_parse():
    e = blkio.parse_entries("7:0 Read 100\n7:0 Write 0\n7:0 Total 100\nTotal 100\n")
    assert [(x.major, x.minor, x.op, x.value) for x in e] == [(7, 0, "Read", 100), (7, 0, "Write", 0), (7, 0, "Total", 100)]


def test_unified_plan_is_raw():
    assert unified.plan(R(unified={"memory.high": "1G", "pids.max": "7"})) == [("memory.high", "1G"), ("pids.max", "7")]


def test_blkio_weight_without_scheduler_is_unavailable(tmp_path):
    from pallet.errors import Unavailable
    (tmp_path / "blkio.throttle.read_bps_device").write_text("")
    with pytest.raises(Unavailable, match="linux.resources.blockIO.weight"):
        blkio.apply(R(blockIO={"weight": 500}), str(tmp_path))
    (tmp_path / "blkio.bfq.weight").write_text("")
    blkio.apply(R(blockIO={"weight": 500}), str(tmp_path))
    assert (tmp_path / "blkio.bfq.weight").read_text() == "500"


def test_rdma_plan():
    from pallet.cgroups.v1 import rdma
    r = R(rdma={"mlx4_0": {"hcaHandles": 2, "hcaObjects": 2000}})
    assert rdma.plan(r) == [("rdma.max", "mlx4_0 hca_handle=2 hca_object=2000")]
