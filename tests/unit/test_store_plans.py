"""Pure planners of the store: overlay mount options for deep chains, layer merge plans, sizes."""

import os

import pytest

from pallet.errors import InvalidArgument, Unavailable
from pallet.store import snapshotter as S
from pallet.store.layer import plan_merge


def test_short_chain_uses_absolute_lowerdirs():
    spec = S.plan_overlay(["/r/layers/a/diff", "/r/layers/b/diff"], ["l/A", "l/B"], "/r/u", "/r/w", "/r")
    assert spec.cwd == "" and spec.options[0] == "lowerdir=/r/layers/a/diff:/r/layers/b/diff"


def test_deep_chain_switches_to_short_relative_links():
    n = 120
    abs_ = [f"/var/lib/pallet/overlay/layers/{'%064x' % i}/diff" for i in range(n)]
    rel = [f"l/{'%010X' % i}" for i in range(n)]
    spec = S.plan_overlay(abs_, rel, "/u", "/w", "/var/lib/pallet/overlay")
    assert spec.cwd == "/var/lib/pallet/overlay"
    assert spec.options[0].startswith("lowerdir=l/0000000000:l/0000000001")
    assert len(",".join(spec.options)) < 4096


def test_too_deep_chain_is_refused():
    with pytest.raises(InvalidArgument, match="too many layers"):
        S.plan_overlay(["/x"] * 501, ["l/x"] * 501, "/u", "/w", "/")


def test_size_option_needs_xfs_with_pquota(tmp_path):
    with pytest.raises(Unavailable, match="xfs mounted with 'pquota'"):
        S.check_size_support(str(tmp_path))


@pytest.mark.parametrize("text,n", [("10G", 10 << 30), ("512m", 512 << 20), ("1.5GiB", int(1.5 * (1 << 30))), ("100", 100)])
def test_parse_size(text, n):
    assert S.parse_size(text) == n


def test_merge_plan_top_wins_and_whiteouts_hide(tmp_path):
    top, low = tmp_path / "top", tmp_path / "low"
    for d in (top, low):
        d.mkdir()
    (low / "a").write_text("low")
    (low / "gone").write_text("x")
    (low / "dir").mkdir()
    (low / "dir" / "old").write_text("x")
    (top / "a").write_text("top")
    (top / "dir").mkdir()
    os.setxattr(top / "dir", "user.test", b"1")
    plan = plan_merge([str(top), str(low)])
    got = {rel: src for src, rel in plan.entries}
    assert got["a"] == str(top) and got["dir/old"] == str(low) and "gone" in got
