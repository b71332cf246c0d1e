"""stats' pure parts: Docker's units, the table layout, NET I/O parsing, CPU %, and one sample read from a
temporary cgroup tree with Docker's memory accounting."""

from __future__ import annotations

import os
from types import SimpleNamespace

from pallet.cli.stats import COLUMNS, table
from pallet.engine import stats


def test_docker_units():
    assert stats.binary_size(0) == "0B"
    assert stats.binary_size(1536) == "1.5KiB"
    assert stats.binary_size(40 * 2**20 + 52 * 2**10) == "40.05MiB"
    assert stats.binary_size(25_272_000_000) == "23.54GiB"
    assert stats.io_size(0) == "0B"
    assert stats.io_size(110_000) == "110kB"
    assert stats.io_size(3_568_000) == "3.57MB"
    assert stats.io_size(999) == "999B"


def test_net_dev_leaves_out_lo():
    text = ("Inter-|   Receive                                                |  Transmit\n"
            " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
            "    lo:  9999      10    0    0    0     0          0         0     9999      10    0    0    0     0       0          0\n"
            "  eth0:  1000       5    0    0    0     0          0         0      648       3    0    0    0     0       0          0\n"
            "  eth1:    24       1    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n")
    assert stats.parse_net_dev(text) == (1024, 648)


def test_cpu_percent():
    assert stats.cpu_percent(2_000_000_000, 1_000_000_000, 1.0) == 100.0
    assert stats.cpu_percent(500_000_000, 0, 2.0) == 25.0
    assert stats.cpu_percent(5, 10, 1.0) == 0.0     # a counter that went back (new cgroup): not negative
    assert stats.cpu_percent(5, 0, 0.0) == 0.0


def test_table_is_dockers_tabwriter_layout():
    rows = [stats.Sample("a" * 64, "web", 1.234, 40 * 2**20, 200 * 2**20, 20.0, 0, 4096, 3).row()]
    out = table(rows).splitlines()
    assert out[0] == ("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O    PIDS")
    assert out[1] == ("aaaaaaaaaaaa   web       1.23%     40MiB / 200MiB      20.00%    0B / 0B   0B / 4.1kB   3")
    assert [h for _, h in COLUMNS][-1] == "PIDS"


def test_row_fields_and_container_column():
    s = stats.Sample("b" * 64, "db", 0.0, 0, 0, 0.0, 0, 0, 0, net_rx=1000, net_tx=2000)
    row = s.row()
    assert set(row) == {"Container", "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"}
    assert row["Container"] == "b" * 12 and row["NetIO"] == "1kB / 2kB"
    assert s.row(no_trunc=True)["ID"] == "b" * 64
    assert s.row(container="db")["Container"] == "db"


def _state(cid: str, status: str = "running", started_at: float = 0.0):
    return SimpleNamespace(id=cid, name="c1", status=status, row=SimpleNamespace(started_at=started_at, pid=0))


def _fake_v1(tmp_path, cid: str, files: dict[tuple[str, str], str]) -> stats.Layout:
    mounts = {}
    for (ctrl, name), text in files.items():
        d = tmp_path / ctrl / "pallet" / cid
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
        mounts[ctrl] = str(tmp_path / ctrl)
    return stats.Layout("v1", mounts, str(tmp_path))


def test_sample_v1_subtracts_total_inactive_file(tmp_path):
    cid = "c" * 64
    layout = _fake_v1(tmp_path, cid, {
        ("memory", "memory.usage_in_bytes"): f"{100 << 20}\n",
        ("memory", "memory.limit_in_bytes"): f"{400 << 20}\n",
        ("memory", "memory.stat"): f"cache {70 << 20}\ninactive_file 1\ntotal_inactive_file {60 << 20}\n",
        ("cpuacct", "cpuacct.usage"): "3000000000\n",
        ("pids", "pids.current"): "4\n",
        ("blkio", "blkio.throttle.io_service_bytes_recursive"): "8:0 Read 4096\n8:0 Write 8192\n8:0 Total 12288\nTotal 12288\n",
    })
    s = stats.sample(_state(cid), 8 << 30, layout=layout, host_ns=0)
    assert s.mem_usage == 40 << 20                  # 100 MiB - 60 MiB inactive file
    assert s.mem_limit == 400 << 20 and s.mem_percent == 10.0
    assert (s.block_read, s.block_write, s.pids, s.cpu_ns) == (4096, 8192, 4, 3_000_000_000)


def test_sample_unlimited_shows_host_memory_and_stream_delta(tmp_path):
    cid = "d" * 64
    layout = _fake_v1(tmp_path, cid, {
        ("memory", "memory.usage_in_bytes"): f"{10 << 20}\n",
        ("memory", "memory.limit_in_bytes"): "9223372036854771712\n",
        ("memory", "memory.stat"): "total_inactive_file 0\n",
        ("cpuacct", "cpuacct.usage"): "2000000000\n",
        ("pids", "pids.current"): "1\n",
    })
    import time

    prev = stats.Sample(cid, "c1", 0, 0, 0, 0, 0, 0, 1, cpu_ns=1_500_000_000, taken_at=time.monotonic() - 1.0)
    s = stats.sample(_state(cid), 1 << 30, layout=layout, host_ns=0, previous=prev)
    assert s.mem_limit == 1 << 30 and round(s.mem_percent, 3) == round(100 * 10 / 1024, 3)
    assert 40.0 < s.cpu_percent < 55.0               # 0.5 s of cpu in ~1 s
    assert (s.block_read, s.block_write) == (0, 0)


def test_sample_v2_files(tmp_path):
    cid = "e" * 64
    d = tmp_path / "pallet" / cid
    d.mkdir(parents=True)
    (d / "memory.current").write_text(f"{50 << 20}\n")
    (d / "memory.max").write_text("max\n")
    (d / "memory.stat").write_text(f"anon 1\nfile {30 << 20}\ninactive_file {20 << 20}\n")
    (d / "cpu.stat").write_text("usage_usec 1000000\nuser_usec 1\nsystem_usec 1\n")
    (d / "pids.current").write_text("2\n")
    (d / "io.stat").write_text("8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n")
    layout = stats.Layout("v2", {"": str(tmp_path)}, str(tmp_path))
    s = stats.sample(_state(cid, started_at=1.0), 1 << 30, layout=layout, host_ns=0)
    assert s.mem_usage == 30 << 20 and s.mem_limit == 1 << 30
    assert (s.cpu_ns, s.pids, s.block_read, s.block_write) == (1_000_000_000, 2, 100, 200)


def test_stopped_or_vanished_containers_are_zero(tmp_path):
    s = stats.sample(_state("f" * 64, status="exited"), 1 << 30, layout=stats.Layout("v1", {}, str(tmp_path)))
    assert not s.running and s.row()["MemUsage"] == "0B / 0B" and s.row()["PIDs"] == "0"
    gone = stats.sample(_state("f" * 64), 1 << 30, layout=_fake_v1(tmp_path, "x" * 64, {}), host_ns=0)
    assert not gone.running


def test_net_io_of_the_hosts_namespace_is_zero():
    assert stats.net_io(os.getpid(), stats.host_netns()) == (0, 0)
    assert stats.net_io(0, 1) == (0, 0)


def test_detect_layout_on_fake_trees(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory pids io\n")
    lay = stats.detect_layout(str(v2))
    assert lay.version == "v2" and lay.dir("", "a" * 64) == str(v2 / "pallet" / ("a" * 64))
    v1 = tmp_path / "v1"
    for c in stats.STATS_CONTROLLERS:
        (v1 / c).mkdir(parents=True)
    lay = stats.detect_layout(str(v1))
    assert lay.version == "v1" and lay.dir("memory", "b" * 64) == str(v1 / "memory" / "pallet" / ("b" * 64))
    assert lay.dir("hugetlb", "b" * 64) == ""


def test_blkio_sums_and_inactive_file():
    assert stats.sum_blkio("8:0 Read 10\n8:0 Write 20\n8:0 Sync 5\n8:16 Read 1\n8:0 Total 36\nTotal 36\n") == (11, 20)
    assert stats.sum_blkio("8:0 rbytes=100 wbytes=200 rios=1\n259:0 rbytes=1 wbytes=2\n") == (101, 202)
    v1 = "cache 5\ninactive_file 1\nactive_file 2\ntotal_cache 5\ntotal_inactive_file 7\n"
    assert stats.inactive_file(v1, "v1") == {"total_inactive_file": 7}
    assert stats.inactive_file("anon 3\ninactive_file 9\nactive_file 1\n", "v2") == {"inactive_file": 9}
    assert stats.inactive_file("", "v2") == {}
