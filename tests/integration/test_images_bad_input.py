"""Bad input: escapes, corrupt archives, digest mismatches, missing images, a killed load.

Each is refused with one line on stderr and a non-zero exit, and nothing is
left half-written in the store.
"""

import json
import os
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from _imagekit import PALLET, dir_tar, docker_archive, layer_tar, pallet, store_is_clean

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

ESCAPES = {
    "dotdot": ([{"name": "../../../../tmp/pallet-escape-dotdot", "data": b"x"}], "'..' component"),
    "abs-symlink-followed": ([{"name": "etc", "type": "l", "link": "/tmp"},
                              {"name": "etc/pallet-escape-symlink", "data": b"x"}], "goes through symlink 'etc'"),
    "rel-symlink-out": ([{"name": "up", "type": "l", "link": "../../../../../tmp"},
                         {"name": "up/pallet-escape-rel", "data": b"x"}], "goes through symlink 'up'"),
    "hardlink-outside": ([{"name": "pw", "type": "h", "link": "../../../../etc/passwd"}], "'..' component"),
    "hardlink-absolute": ([{"name": "pw", "type": "h", "link": "/etc/passwd"}], "outside the layer"),
    "whiteout-outside": ([{"name": "a", "type": "d"}, {"name": "a/.wh...", "data": b""}], "points outside"),
    "whiteout-through-symlink": ([{"name": "s", "type": "l", "link": "/"}, {"name": "s/.wh.etc"}], "goes through symlink"),
}


def assert_nothing_applied(root):
    assert store_is_clean(root) == []
    layers = Path(root) / "overlay" / "layers"
    assert not layers.exists() or list(layers.iterdir()) == []
    for leak in ("/tmp/pallet-escape-dotdot", "/tmp/pallet-escape-symlink", "/tmp/pallet-escape-rel"):
        assert not os.path.exists(leak)


@pytest.mark.parametrize("via", ["stream", "file"])
@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_import_refuses_escape(pallet_dirs, tmp_path, case, via):
    members, message = ESCAPES[case]
    # a good member first, so a partial extraction would be visible
    data = layer_tar([{"name": "ok", "data": b"fine"}] + members)
    if via == "file":  # root-owned file: tar reads it in place after the header check
        (tmp_path / "evil.tar").write_bytes(data)
        r = pallet(pallet_dirs, "import", tmp_path / "evil.tar", "evil:1", check=False)
    else:
        r = pallet(pallet_dirs, "import", "-", "evil:1", input=data, check=False)
    assert r.returncode != 0
    assert r.err.count("\n") == 1 and message in r.err and r.err.startswith("Error: "), r.err
    assert pallet(pallet_dirs, "images", "-q").out == ""
    assert_nothing_applied(pallet_dirs["root"])


@pytest.mark.parametrize("case", ["dotdot", "abs-symlink-followed", "whiteout-outside"])
def test_load_refuses_escape_and_loads_nothing(pallet_dirs, rootfs, tmp_path, case):
    members, message = ESCAPES[case]
    arc = tmp_path / "evil.tar"
    docker_archive(arc, [dir_tar(rootfs), layer_tar(members)], ["evil:1"])
    r = pallet(pallet_dirs, "load", "-i", arc, check=False)
    assert r.returncode != 0 and message in r.err and r.err.count("\n") == 1, r.err
    assert pallet(pallet_dirs, "images", "-q").out == ""
    assert_nothing_applied(pallet_dirs["root"])


def test_overlay_xattrs_from_a_layer_are_dropped(pallet_dirs):
    data = layer_tar([{"name": "d", "type": "d", "xattrs": {"trusted.overlay.opaque": "y", "user.ok": "1"}}])
    pallet(pallet_dirs, "import", "-", "x:1", input=data)
    (diff,) = (Path(pallet_dirs["root"]) / "overlay" / "layers").glob("*/diff")
    assert os.getxattr(diff / "d", "user.ok") == b"1"
    with pytest.raises(OSError):
        os.getxattr(diff / "d", "trusted.overlay.opaque")


def test_corrupt_tarball(pallet_dirs, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"\x00garbage" * 1000)
    r = pallet(pallet_dirs, "load", "-i", bad, check=False)
    assert r.returncode != 0 and r.err.count("\n") == 1 and "archive" in r.err
    r = pallet(pallet_dirs, "import", bad, check=False)
    assert r.returncode != 0 and r.err.count("\n") == 1
    truncated = tmp_path / "trunc.tar.gz"
    import gzip
    truncated.write_bytes(gzip.compress(layer_tar([{"name": "f", "data": os.urandom(100000)}]))[:50000])
    r = pallet(pallet_dirs, "import", truncated, check=False)
    assert r.returncode != 0 and r.err.count("\n") == 1
    assert_nothing_applied(pallet_dirs["root"])


def test_layer_digest_mismatch(pallet_dirs, rootfs, tmp_path):
    arc = tmp_path / "a.tar"
    docker_archive(arc, [dir_tar(rootfs), layer_tar([{"name": "f", "data": b"hello"}])], ["mm:1"])
    # flip one data byte of the second layer.tar in place (same size, checksums of headers intact)
    with tarfile.open(arc) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        ti = tf.getmember(manifest[0]["Layers"][1])
        inner = tf.extractfile(ti).read()
    pos = inner.index(b"hello")
    with open(arc, "r+b") as f:
        f.seek(ti.offset_data + pos)
        f.write(b"j")
    r = pallet(pallet_dirs, "load", "-i", arc, check=False)
    assert r.returncode != 0 and "does not match the image config" in r.err and r.err.count("\n") == 1
    assert pallet(pallet_dirs, "images", "-q").out == ""
    assert_nothing_applied(pallet_dirs["root"])


def test_missing_image_errors(pallet_dirs, tmp_path):
    for args in (["image", "inspect", "nope"], ["history", "nope"], ["rmi", "nope"], ["tag", "nope", "x:1"],
                 ["save", "-o", tmp_path / "x.tar", "nope"], ["image", "squash", "nope", "-t", "y"]):
        r = pallet(pallet_dirs, *args, check=False)
        assert r.returncode == 1, args
        assert "No such image: nope" in r.err and r.err.count("\n") == 1, (args, r.err)
    assert not (tmp_path / "x.tar").exists()
    r = pallet(pallet_dirs, "load", "-i", tmp_path / "none.tar", check=False)
    assert r.returncode == 1 and "no such file" in r.err


def test_sigkill_during_load_leaves_store_loadable(pallet_dirs, rootfs, tmp_path):
    big = layer_tar([{"name": f"d{i // 100}/f{i}", "data": os.urandom(20000)} for i in range(3000)])
    arc = tmp_path / "big.tar"
    docker_archive(arc, [dir_tar(rootfs), big], ["big:1"])
    root = pallet_dirs["root"]
    for delay in (0.15, 0.4):
        proc = subprocess.Popen([PALLET, "--root", str(root), "--runroot", str(pallet_dirs["runroot"]), "load", "-i", str(arc)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # consistent: listing works and shows no half-loaded image
        out = pallet(pallet_dirs, "images", "--format", "{{.Repository}}").out
        assert out in ("", "big\n")
    r = pallet(pallet_dirs, "load", "-i", arc)
    assert r.out == "Loaded image: big:1\n"
    # the litter of the killed loads goes with the next GC
    pallet(pallet_dirs, "image", "prune", "-f")
    assert store_is_clean(root) == []
    out = tmp_path / "again.tar"
    pallet(pallet_dirs, "save", "-o", out, "big:1")
    pallet(pallet_dirs, "load", "-i", out, root=tmp_path / "r2")
