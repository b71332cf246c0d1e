"""The streaming tar check that guards every layer apply (no root needed)."""

import io
import tarfile

import pytest

from pallet.errors import InvalidArgument
from pallet.store.targuard import TarGuard


def make_tar(members, fmt=tarfile.PAX_FORMAT) -> bytes:
    """members: (name, type, extra) with type in f d l h c; extra = data / link target."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, typ, extra in members:
            ti = tarfile.TarInfo(name)
            data = None
            if typ == "f":
                data = extra or b""
                ti.size = len(data)
            elif typ == "d":
                ti.type = tarfile.DIRTYPE
            elif typ == "l":
                ti.type, ti.linkname = tarfile.SYMTYPE, extra
            elif typ == "h":
                ti.type, ti.linkname = tarfile.LNKTYPE, extra
            elif typ == "c":
                ti.type = tarfile.CHRTYPE
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def run_guard(data: bytes, chunk: int = 7):
    g = TarGuard()
    out = bytearray()
    for i in range(0, len(data), chunk):
        for piece in g.feed(data[i:i + chunk]):
            out += piece
    return g.finish(), bytes(out)


GOOD = [("etc", "d", None), ("etc/passwd", "f", b"root:x:0:0\n"), ("etc/hl", "h", "etc/passwd"),
        ("bin", "d", None), ("bin/sh", "l", "/bin/busybox"), ("a/.wh.gone", "f", None),
        ("b/.wh..wh..opq", "f", None), ("dev/null", "c", None), ("x" * 150 + "/long", "f", b"z" * 1000)]


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("chunk", [1, 511, 512, 4096, 1 << 20])
def test_good_layer_passes_through_unchanged(fmt, chunk):
    data = make_tar(GOOD, fmt)
    res, out = run_guard(data, chunk)
    assert out == data
    assert res.whiteouts == [("a", "gone")]
    assert res.opaque_dirs == ["b"]
    assert res.paths["etc/hl"] == "f"
    assert res.members == len(GOOD)


@pytest.mark.parametrize("members,message", [
    ([("../evil", "f", b"x")], "'..' component"),
    ([("a/../../evil", "f", b"x")], "'..' component"),
    ([("etc", "l", "/etc"), ("etc/passwd", "f", b"x")], "goes through symlink 'etc'"),
    ([("lnk", "l", "../../.."), ("lnk/x", "d", None)], "goes through symlink"),
    ([("h", "h", "../../etc/passwd")], "'..' component"),
    ([("h", "h", "/etc/shadow")], "target is outside the layer"),
    ([("d", "d", None), ("h", "h", "d")], "target is outside the layer"),
    ([("a/.wh...", "f", None)], "points outside"),
    ([("a/.wh.", "f", None)], "points outside"),
    ([("l", "l", "/"), ("l/.wh.etc", "f", None)], "goes through symlink"),
])
def test_escapes_are_refused_before_any_byte_goes_on(members, message):
    data = make_tar(members)
    g = TarGuard()
    forwarded = bytearray()
    with pytest.raises(InvalidArgument, match=message):
        for piece in g.feed(data):
            forwarded += piece
    # the refused member's header never reached the extractor
    bad = members[-1][0].encode()
    assert bad not in forwarded


def test_a_checked_member_before_the_bad_one_is_forwarded():
    data = make_tar([("ok", "f", b"1"), ("../bad", "f", b"2")])
    g = TarGuard()
    out = bytearray()
    with pytest.raises(InvalidArgument):
        for i in range(0, len(data), 512):
            out += b"".join(g.feed(data[i:i + 512]))
    assert b"ok" in out and b"../bad" not in out


def test_corrupt_and_truncated_archives():
    data = bytearray(make_tar(GOOD))
    data[100] ^= 0xFF  # inside the first header: checksum no longer matches
    with pytest.raises(InvalidArgument, match="checksum"):
        run_guard(bytes(data))
    with pytest.raises(InvalidArgument, match="unexpected end"):
        run_guard(make_tar(GOOD)[:1500])
    with pytest.raises(InvalidArgument):
        run_guard(b"this is not a tar file at all" * 40)
