"""Docker's memory usage (usage minus inactive file cache), v1 and v2."""

from pallet.cgroups import memory_accounting as acct
from pallet.cgroups.stats import MemoryEntry, MemoryStats


def test_v1_subtracts_total_inactive_file():
    m = MemoryStats(usage=MemoryEntry(usage=100 << 20, limit=200 << 20),
                    raw={"total_inactive_file": 30 << 20, "inactive_file": 1 << 20}, version="v1")
    assert acct.usage(m) == 70 << 20
    assert acct.percent(m) == 35.0


def test_v2_subtracts_inactive_file():
    m = MemoryStats(usage=MemoryEntry(usage=100 << 20, limit=400 << 20), raw={"inactive_file": 20 << 20}, version="v2")
    assert acct.usage(m) == 80 << 20 and acct.percent(m) == 20.0


def test_inactive_not_below_usage_keeps_usage():
    m = MemoryStats(usage=MemoryEntry(usage=10), raw={"inactive_file": 50}, version="v2")
    assert acct.usage(m) == 10


def test_unlimited_shows_host_memory():
    m = MemoryStats(usage=MemoryEntry(usage=1 << 30, limit=9223372036854771712), raw={}, version="v1")
    assert acct.limit(m, host_total=4 << 30) == 4 << 30 and acct.percent(m, 4 << 30) == 25.0
    assert acct.host_memory() > 0
