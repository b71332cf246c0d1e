"""The overlay snapshotter against the kernel: deep chains, usage, removal, the size option's error."""

import io
import os
import subprocess
from pathlib import Path

import pytest

from _imagekit import layer_tar

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@pytest.fixture
def snap(tmp_path):
    from pallet.store.snapshotter import OverlaySnapshotter

    # a long root path, so that absolute lowerdirs overflow the mount data page
    root = tmp_path / ("x" * 120) / "overlay"
    return OverlaySnapshotter(str(root))


def test_deep_chain_mounts_with_relative_links(snap, tmp_path, cleanup):
    from pallet.store.snapshotter import chain_of, mount_spec

    parent = ""
    n = 60
    for i in range(n):
        data = layer_tar([{"name": f"l{i}", "data": f"{i}".encode()}, {"name": "top", "data": f"{i}".encode()}])
        chain = chain_of(parent, "sha256:" + __import__("hashlib").sha256(data).hexdigest())
        snap.add_layer(chain, parent, io.BytesIO(data))
        parent = chain
    (spec,) = snap.prepare("ctr1", parent)
    assert spec.cwd == snap.root and "lowerdir=l/" in spec.options[0]
    target = tmp_path / "merged"
    target.mkdir()
    cwd = os.getcwd()
    mount_spec(spec, str(target))
    cleanup.add(lambda: subprocess.run(["umount", str(target)], check=False))
    assert os.getcwd() == cwd
    assert (target / "l0").read_text() == "0" and (target / f"l{n - 1}").read_text() == str(n - 1)
    assert (target / "top").read_text() == str(n - 1)
    (target / "new").write_bytes(b"z" * 10000)
    os.unlink(target / "l0")
    subprocess.run(["umount", str(target)], check=True)
    upper = Path(snap.upper_dir("ctr1"))
    assert (upper / "new").exists() and os.stat(upper / "l0").st_rdev == 0  # overlay's own whiteout
    use = snap.usage("ctr1")
    assert use.inodes == 2 and use.size >= 10000
    assert snap.usage(parent).inodes == 2
    snap.remove("ctr1")
    assert snap.snapshots() == []


def test_size_limit_is_refused_on_ext4(pallet_dirs, rootfs):
    from pallet.engine import images as E
    from pallet.engine.context import EngineContext
    from pallet.errors import Unavailable

    from _imagekit import dir_tar, pallet

    pallet(pallet_dirs, "import", "-", "s:1", input=dir_tar(rootfs))
    with EngineContext.open(root=str(pallet_dirs["root"]), runroot=str(pallet_dirs["runroot"])) as ctx:
        with pytest.raises(Unavailable, match="xfs mounted with 'pquota'"):
            E.prepare_container_rootfs(ctx, "c1", "s:1", size=10 << 20)
        assert ctx.snapshotter.snapshots() == []


def test_export_and_diff_of_a_container_snapshot(pallet_dirs, rootfs, tmp_path):
    import tarfile

    from pallet.engine import images as E
    from pallet.engine.context import EngineContext

    from _imagekit import dir_tar, pallet

    pallet(pallet_dirs, "import", "-", "e:1", input=dir_tar(rootfs))
    with EngineContext.open(root=str(pallet_dirs["root"]), runroot=str(pallet_dirs["runroot"])) as ctx:
        E.prepare_container_rootfs(ctx, "c1", "e:1")
        upper = Path(ctx.snapshotter.upper_dir("c1"))
        (upper / "hello").write_text("hi")
        os.mknod(upper / "etc", 0o020000, os.makedev(0, 0))  # the container deleted /etc
        buf = io.BytesIO()
        E.export_rootfs(ctx, "c1", buf)
        names = set(tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames())
        assert "hello" in names and "bin/busybox" in names and not any(n.startswith("etc") for n in names)
        assert not any(".wh." in n for n in names)
        buf = io.BytesIO()
        E.diff_layer(ctx, "c1", buf)
        names = sorted(tarfile.open(fileobj=io.BytesIO(buf.getvalue())).getnames())
        assert names == [".wh.etc", "hello"]
        E.remove_container_rootfs(ctx, "c1")
