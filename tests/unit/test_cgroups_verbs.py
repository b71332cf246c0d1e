"""The pure parts of the runtime verbs pause/resume/update/events."""

import pytest

from pallet.errors import InvalidArgument
from pallet.runtime import events, update

MiB = 1 << 20


@pytest.mark.parametrize("text,expected", [("1024", 1024), ("100m", 100 * MiB), ("1g", 1 << 30), ("1.5g", 3 << 29),
                                           ("512MiB", 512 * MiB), ("64k", 65536), ("-1", -1), ("2 GB", 2 << 30)])
def test_parse_bytes(text, expected):
    assert update.parse_bytes(text, "memory") == expected


def test_parse_bytes_refuses():
    with pytest.raises(InvalidArgument, match="--memory"):
        update.parse_bytes("lots", "memory")


def test_from_flags_builds_oci_resources():
    r = update.from_flags({"memory": "128m", "memory-swap": "-1", "cpu-quota": "50000", "cpu-period": "100000",
                           "cpu-shares": "512", "cpuset-cpus": "0-1", "cpuset-mems": "0", "pids-limit": "50",
                           "blkio-weight": "300", "resources": None})
    assert r.to_json() == {
        "memory": {"limit": 128 * MiB, "swap": -1},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 50}, "blockIO": {"weight": 300}}


def test_from_flags_runc_spelling_of_shares():
    assert update.from_flags({"cpu-share": "256"}).cpu.shares == 256


def test_from_flags_bad_value_names_field():
    with pytest.raises(InvalidArgument, match="linux.resources.blockIO.weight"):
        update.from_flags({"blkio-weight": "5"})


def test_read_resources(tmp_path):
    f = tmp_path / "r.json"
    f.write_text('{"pids": {"limit": 3}}')
    assert update.read_resources(str(f)).pids.limit == 3
    f.write_text("{nope")
    with pytest.raises(InvalidArgument, match="not JSON"):
        update.read_resources(str(f))


@pytest.mark.parametrize("text,seconds", [("5s", 5), ("500ms", 0.5), ("1m30s", 90), ("2h", 7200), ("0.25s", 0.25)])
def test_parse_duration(text, seconds):
    assert events.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["5", "s", "5x", "-1s", "0s", "5s junk"])
def test_parse_duration_refuses(bad):
    with pytest.raises(InvalidArgument, match="--interval"):
        events.parse_duration(bad)
