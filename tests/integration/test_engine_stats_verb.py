"""`pallet stats` end to end: Docker's memory accounting, columns, --format, -a, CPU, PIDs, bad input."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from conftest import requires_root
from engine_image import one_error_line, pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]

MiB = 1 << 20
UNITS = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}


def parse_binary(text: str) -> int:
    m = re.fullmatch(r"([\d.]+)([KMGT]?i?B)", text.strip())
    assert m, text
    return int(float(m.group(1)) * UNITS[m.group(2)])


def cgroup_file(cid: str, ctrl: str, name: str) -> str:
    with open(f"/sys/fs/cgroup/{ctrl}/pallet/{cid}/{name}") as f:
        return f.read()


def stats_of(pl, ref: str) -> dict:
    return json.loads(pl.ok("stats", "--no-stream", "--format", "json", ref))


def test_stats_memory_the_container_allocated(pl):
    # 40 MiB in the container's tmpfs /dev/shm: shmem, charged to its memory cgroup and never "inactive file"
    cid = pl.run_d("--name", "memhog", "--memory", "200m", "--",
                   "sh", "-c", "dd if=/dev/zero of=/dev/shm/fill bs=1M count=40 2>/dev/null && sleep 300")
    wait_for(lambda: "40" in pl.ok("exec", "memhog", "sh", "-c", "du -m /dev/shm/fill 2>/dev/null | cut -f1"),
             what="the 40 MiB fill")
    s = stats_of(pl, "memhog")
    used, limit = (parse_binary(x) for x in s["MemUsage"].split(" / "))
    assert 40 * MiB <= used < 60 * MiB, s
    assert limit == 200 * MiB, s
    assert abs(float(s["MemPerc"].rstrip("%")) - 100 * used / (200 * MiB)) < 1.5, s
    line = pl.ok("stats", "--no-stream", "--format", "{{.Name}} {{.MemPerc}}", "memhog").strip()
    name, perc = line.split()
    assert name == "memhog" and re.fullmatch(r"\d+\.\d\d%", perc) and 19.0 < float(perc[:-1]) < 30.0
    assert s["Container"] == "memhog" and s["ID"] == cid[:12]


def test_stats_leaves_out_the_inactive_file_cache(pl):
    """Docker's MEM USAGE is usage_in_bytes - total_inactive_file: 64 MB written to a file (page cache)
    shows in the kernel's counter but not in stats."""
    cid = pl.run_d("--name", "cache", "--",
                   "sh", "-c", "dd if=/dev/zero of=/root/big bs=1M count=64 2>/dev/null && sync && sleep 300")
    wait_for(lambda: "64" in pl.ok("exec", "cache", "sh", "-c", "du -m /root/big 2>/dev/null | cut -f1"),
             what="the 64 MB file")
    time.sleep(0.5)
    raw = int(cgroup_file(cid, "memory", "memory.usage_in_bytes"))
    s = stats_of(pl, "cache")
    stat = dict(line.split() for line in cgroup_file(cid, "memory", "memory.stat").splitlines())
    inactive = int(stat["total_inactive_file"])
    used = parse_binary(s["MemUsage"].split(" / ")[0])
    assert raw >= 60 * MiB, (raw, stat)
    assert inactive >= 30 * MiB, stat
    assert used < raw - 30 * MiB, (used, raw, inactive)
    assert abs(used - (raw - inactive)) < 8 * MiB, (used, raw, inactive)


def test_stats_table_columns_all_and_pids(pl):
    pl.run_d("--name", "three", "--", "sh", "-c", "sleep 300 & sleep 300 & wait")
    pl.ok("create", "--name", "idle", *pl.image, "true")
    wait_for(lambda: stats_of(pl, "three")["PIDs"] == "3", what="3 pids")
    out = pl.ok("stats", "--no-stream")
    header, *rows = out.splitlines()
    assert re.split(r"\s{2,}", header) == ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %",
                                           "NET I/O", "BLOCK I/O", "PIDS"]
    assert len(rows) == 1 and " three " in rows[0]
    assert rows[0].split()[-1] == "3"
    assert "0B / 0B" in rows[0]  # --net none: no traffic of its own
    all_rows = pl.ok("stats", "--no-stream", "-a", "--format", "{{.Name}}|{{.MemUsage}}|{{.PIDs}}").splitlines()
    assert sorted(all_rows)[0] == "idle|0B / 0B|0"
    assert len(all_rows) == 2
    full = pl.ok("stats", "--no-stream", "--no-trunc", "--format", "{{.ID}}").strip()
    assert len(full) == 64
    table = pl.ok("stats", "--no-stream", "--format", "table {{.Name}}\\t{{.PIDs}}").splitlines()
    assert table[0].split() == ["NAME", "PIDS"] and table[1].split() == ["three", "3"]


def test_stats_cpu_percent_of_a_busy_container(pl):
    pl.run_d("--name", "spin", "--", "sh", "-c", "while :; do :; done")
    time.sleep(1.5)
    perc = float(stats_of(pl, "spin")["CPUPerc"].rstrip("%"))
    assert 40.0 < perc <= 105.0, perc  # one busy CPU, averaged since the start (no second sample)


def test_stats_stream_redraws(pl):
    pl.run_d("--name", "s1", "--", "sleep", "300")
    proc = subprocess.Popen(pl.argv("stats"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2.6)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert out.count("CONTAINER ID") >= 2, out
    assert out.count(" s1 ") >= 2


def test_stats_bad_input_is_one_line(pl):
    r = pl("stats", "--bogus")
    assert r.returncode == 125 and "--bogus" in one_error_line(r)
    r = pl("stats", "--no-stream", "nosuch")
    assert r.returncode == 1 and "no such container: nosuch" in one_error_line(r)
    r = pl("stats", "--no-stream", "--format", "{{.Nope}", "nosuch")
    assert r.returncode != 0
    assert pl.ok("stats", "--no-stream") == pl.ok("stats", "--no-stream").splitlines()[0] + "\n"
