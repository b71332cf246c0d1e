"""LinuxResources.from_json: values in, bad fields named."""

import pytest

from pallet.errors import InvalidArgument
from pallet.oci.resources import LinuxResources

FULL = {
    "devices": [{"allow": False, "type": "a", "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
    "memory": {"limit": 1 << 30, "reservation": 1 << 29, "swap": 2 << 30, "swappiness": 10,
               "disableOOMKiller": False, "kernelTCP": 1 << 20},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "realtimeRuntime": 950000,
            "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 0, "burst": 1000},
    "pids": {"limit": 100},
    "blockIO": {"weight": 500, "leafWeight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 600}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}]},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
    "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
    "unified": {"memory.high": "1G"},
}


def test_full_roundtrip():
    r = LinuxResources.from_json(FULL)
    assert r.memory.limit == 1 << 30 and r.cpu.cpus == "0-1" and r.pids.limit == 100
    assert r.devices[0].major is None and r.devices[1].access == "rw"
    assert r.block_io.throttle_read_bps[0].rate == 1048576
    assert r.to_json() == FULL


def test_empty():
    r = LinuxResources.from_json(None)
    assert r.memory is None and r.to_json() == {}


@pytest.mark.parametrize("doc,field", [
    ({"memory": {"limit": -5}}, "linux.resources.memory.limit"),
    ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit"),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness"),
    ({"memory": {"limit": 100, "swap": 50}}, "linux.resources.memory.swap"),
    ({"cpu": {"shares": -1}}, "linux.resources.cpu.shares"),
    ({"cpu": {"quota": -2}}, "linux.resources.cpu.quota"),
    ({"cpu": {"cpus": "0-a"}}, "linux.resources.cpu.cpus"),
    ({"cpu": {"cpus": "3-1"}}, "linux.resources.cpu.cpus"),
    ({"pids": {"limit": -7}}, "linux.resources.pids.limit"),
    ({"pids": {"limit": True}}, "linux.resources.pids.limit"),
    ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight"),
    ({"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": -1}]}},
     "linux.resources.blockIO.throttleReadBpsDevice[0].rate"),
    ({"hugepageLimits": [{"pageSize": "2M", "limit": 1}]}, "linux.resources.hugepageLimits[0].pageSize"),
    ({"devices": [{"allow": True, "type": "x", "access": "r"}]}, "linux.resources.devices[0].type"),
    ({"devices": [{"allow": True, "access": "rx"}]}, "linux.resources.devices[0].access"),
    ({"devices": [{"access": "r"}]}, "linux.resources.devices[0].allow"),
    ({"unified": {"../memory.max": "1"}}, "linux.resources.unified"),
    ({"memory": []}, "linux.resources.memory"),
])
def test_bad_field_named(doc, field):
    with pytest.raises(InvalidArgument) as exc:
        LinuxResources.from_json(doc)
    assert str(exc.value).startswith(field + ":")
    assert "\n" not in str(exc.value)


def test_unlimited_values_accepted():
    r = LinuxResources.from_json({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}, "cpu": {"quota": -1}})
    assert r.memory.limit == -1 and r.pids.limit == -1


def test_merged_keeps_unnamed_fields():
    base = LinuxResources.from_json(FULL)
    upd = LinuxResources.from_json({"memory": {"limit": 1 << 31}, "pids": {"limit": 5}})
    got = base.merged(upd)
    assert got.memory.limit == 1 << 31 and got.memory.swap == 2 << 30
    assert got.pids.limit == 5 and got.cpu == base.cpu
