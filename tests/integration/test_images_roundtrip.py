"""Real images from busybox-static: several layers, whiteouts, hard links, a device node, xattrs.

Loaded, mounted through the overlay snapshotter, checked file by file,
saved and loaded again (pallet, skopeo, umoci on either side).
"""

import json
import os
import shutil
import stat
import subprocess
import tarfile

import pytest

from _imagekit import Mounted, dir_tar, docker_archive, layer_tar, pallet, sha, store_is_clean

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def app_layers(rootfs):
    base = dir_tar(rootfs)
    extra = layer_tar([
        {"name": "etc/motd", "data": b"v1\n"},
        {"name": "data", "type": "d"},
        {"name": "data/old.txt", "data": b"old\n"},
        {"name": "data/keep.txt", "data": b"keep\n"},
        {"name": "opq", "type": "d"},
        {"name": "opq/lower.txt", "data": b"lower\n"},
    ])
    changes = layer_tar([
        {"name": "data/.wh.old.txt"},
        {"name": "opq", "type": "d", "mode": 0o750},
        {"name": "opq/.wh..wh..opq"},
        {"name": "opq/upper.txt", "data": b"upper\n"},
        {"name": "hl", "type": "d"},
        {"name": "hl/a", "data": b"linked\n"},
        {"name": "hl/b", "type": "h", "link": "hl/a"},
        {"name": "dev/mynull", "type": "c", "dev": (1, 3), "mode": 0o666},
        {"name": "xa", "data": b"x\n", "xattrs": {"user.pallet": "hello", "trusted.overlay.opaque": "y"}},
        {"name": "owned", "data": b"o\n", "uid": 1234, "gid": 5678, "mode": 0o640, "mtime": 1_000_000_000},
        {"name": "rel", "type": "l", "link": "etc/motd"},
    ])
    top = layer_tar([{"name": "etc/motd", "data": b"v3\n"}])
    return [base, extra, changes, top]


@pytest.fixture
def app_archive(tmp_path, rootfs):
    path = tmp_path / "app.tar"
    docker_archive(path, app_layers(rootfs), ["app:v1"])
    return path


def check_app_tree(m):
    assert (m / "etc/motd").read_text() == "v3\n"
    assert not (m / "data/old.txt").exists()
    assert (m / "data/keep.txt").read_text() == "keep\n"
    assert sorted(os.listdir(m / "opq")) == ["upper.txt"]
    assert stat.S_IMODE(os.stat(m / "opq").st_mode) == 0o750
    a, b = os.stat(m / "hl/a"), os.stat(m / "hl/b")
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    st = os.stat(m / "dev/mynull")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    assert os.getxattr(m / "xa", "user.pallet") == b"hello"
    st = os.stat(m / "owned")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), int(st.st_mtime)) == (1234, 5678, 0o640, 1_000_000_000)
    assert os.readlink(m / "rel") == "etc/motd"
    # it runs: busybox from the image, chrooted into the merged view
    out = subprocess.run(["chroot", str(m), "/bin/sh", "-c", "cat /etc/motd; ls /data"], capture_output=True, text=True)
    assert out.stdout == "v3\nkeep.txt\n", out.stderr


def test_load_multilayer_and_mount(pallet_dirs, app_archive, tmp_path):
    r = pallet(pallet_dirs, "load", "-i", app_archive)
    assert r.out == "Loaded image: app:v1\n"
    lines = pallet(pallet_dirs, "images").out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert lines[1].startswith("app          v1        ")
    # a layer's own xattr trusted.overlay.* never reaches the disk (it would steer overlayfs)
    with Mounted(pallet_dirs, "app:v1", "c1", tmp_path / "m") as m:
        check_app_tree(m)
        assert not os.path.exists(m / "nonexistent")
    hist = pallet(pallet_dirs, "history", "app:v1").out.splitlines()
    assert len(hist) == 5 and hist[1].startswith(r"<missing>") is False


def test_save_load_round_trip_keeps_ids(pallet_dirs, app_archive, tmp_path):
    pallet(pallet_dirs, "load", "-i", app_archive)
    iid = pallet(pallet_dirs, "images", "-q", "--no-trunc").out.strip()
    out = tmp_path / "saved.tar"
    pallet(pallet_dirs, "save", "-o", out, "app:v1")
    other = tmp_path / "root2"
    pallet(pallet_dirs, "load", "-i", out, root=other)
    assert pallet(pallet_dirs, "images", "-q", "--no-trunc", root=other).out.strip() == iid
    # gzip'd through a pipe too
    gz = subprocess.run(["gzip", "-c", str(out)], capture_output=True, check=True).stdout
    third = tmp_path / "root3"
    assert pallet(pallet_dirs, "load", input=gz, root=third).out == "Loaded image: app:v1\n"
    dirs3 = dict(pallet_dirs, root=third)
    with Mounted(dirs3, "app:v1", "c2", tmp_path / "m3") as m:
        check_app_tree(m)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_reads_pallet_save_and_pallet_loads_skopeo(pallet_dirs, app_archive, tmp_path):
    pallet(pallet_dirs, "load", "-i", app_archive)
    iid = pallet(pallet_dirs, "images", "-q", "--no-trunc").out.strip()
    saved = tmp_path / "saved.tar"
    pallet(pallet_dirs, "save", "-o", saved, "app:v1")
    info = json.loads(subprocess.run(["skopeo", "inspect", f"docker-archive:{saved}"], capture_output=True, check=True).stdout)
    assert len(info["Layers"]) == 4
    for fmt, name in (("oci-archive", "app:oci"), ("docker-archive", "app:dock")):
        dest = tmp_path / f"{fmt}.tar"
        subprocess.run(["skopeo", "copy", "-q", f"docker-archive:{saved}", f"{fmt}:{dest}:{name}"], check=True, capture_output=True)
        r = pallet(pallet_dirs, "load", "-i", dest)
        assert f"Loaded image: {name}" in r.out
    # skopeo's docker-archive keeps the config bytes: same image id
    assert pallet(pallet_dirs, "image", "inspect", "-f", "{{.Id}}", "app:dock").out.strip() == iid
    # pallet's OCI archive is read by skopeo as well
    oci = tmp_path / "p-oci.tar"
    pallet(pallet_dirs, "save", "--format", "oci-archive", "-o", oci, "app:v1")
    info = json.loads(subprocess.run(["skopeo", "inspect", f"oci-archive:{oci}"], capture_output=True, check=True).stdout)
    assert len(info["Layers"]) == 4


@pytest.mark.skipif(shutil.which("umoci") is None, reason="umoci is not installed")
@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
def test_umoci_unpacks_pallet_save(pallet_dirs, app_archive, tmp_path, fmt):
    pallet(pallet_dirs, "load", "-i", app_archive)
    out = tmp_path / "s.tar"
    pallet(pallet_dirs, "save", "--format", fmt, "-o", out, "app:v1")
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(out) as tf:
        tf.extractall(layout)
    bundle = tmp_path / "umoci-bundle"
    r = subprocess.run(["umoci", "unpack", "--image", f"{layout}:v1", str(bundle)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = bundle / "rootfs"
    assert (m / "etc/motd").read_text() == "v3\n"
    assert not (m / "data/old.txt").exists()
    assert sorted(os.listdir(m / "opq")) == ["upper.txt"]
    assert os.stat(m / "hl/a").st_ino == os.stat(m / "hl/b").st_ino


def test_docker25_layout_and_gzip_layers_load(pallet_dirs, rootfs, tmp_path):
    # pallet's own save is the Docker 25+ layout; a legacy archive with gzip'd layer.tar loads too
    path = tmp_path / "gz.tar"
    docker_archive(path, app_layers(rootfs)[:2], ["gz:1"], gzip_layers=True)
    r = pallet(pallet_dirs, "load", "-i", path)
    assert r.out == "Loaded image: gz:1\n"
    out = tmp_path / "again.tar"
    pallet(pallet_dirs, "save", "-o", out, "gz:1")
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))
    assert {"oci-layout", "index.json", "manifest.json", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["gz:1"] and all(p.startswith("blobs/sha256/") for p in manifest[0]["Layers"])
    # layers in a Docker archive are uncompressed: their file digest is the diff id
    with tarfile.open(out) as tf:
        for p in manifest[0]["Layers"]:
            assert sha(tf.extractfile(p).read()) == "sha256:" + p.rsplit("/", 1)[1]


def test_save_several_images_in_one_tar(pallet_dirs, rootfs, tmp_path):
    tar = dir_tar(rootfs)
    pallet(pallet_dirs, "import", "-", "one:1", input=tar)
    pallet(pallet_dirs, "import", "-c", "CMD [\"echo\", \"two\"]", "-", "two:2", input=tar)
    out = tmp_path / "all.tar"
    pallet(pallet_dirs, "save", "-o", out, "one:1", "two:2")
    other = tmp_path / "r2"
    r = pallet(pallet_dirs, "load", "-i", out, root=other)
    assert r.out == "Loaded image: one:1\nLoaded image: two:2\n"
    assert store_is_clean(other) == []


def test_vfs_driver_same_tree(pallet_dirs, app_archive, tmp_path, monkeypatch):
    monkeypatch.setenv("PALLET_STORAGE_DRIVER", "vfs")
    pallet(pallet_dirs, "load", "-i", app_archive)
    assert (pallet_dirs["root"] / "vfs" / "layers").is_dir()
    with Mounted(pallet_dirs, "app:v1", "c1", tmp_path / "m") as m:
        check_app_tree(m)
    # save from vfs rebuilds the exact layers: same image id elsewhere
    out = tmp_path / "s.tar"
    pallet(pallet_dirs, "save", "-o", out, "app:v1")
    monkeypatch.delenv("PALLET_STORAGE_DRIVER")
    r2 = tmp_path / "r2"
    pallet(pallet_dirs, "load", "-i", out, root=r2)
    assert pallet(pallet_dirs, "images", "-q", root=r2).out == pallet(pallet_dirs, "images", "-q").out


def test_shared_layer_symlinks_in_docker_archive(pallet_dirs, rootfs, tmp_path):
    """Docker 20.10 stores a shared layer once; other images' layer.tar are symlinks to it.
    A link pointing outside the archive is not followed."""
    import io
    import json as _json

    base = dir_tar(rootfs)
    top = layer_tar([{"name": "top", "data": b"t"}])

    def build(path, link_target):
        cfg1 = _json.dumps({"os": "linux", "architecture": "amd64", "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha(base)]}}).encode()
        cfg2 = _json.dumps({"os": "linux", "architecture": "amd64", "config": {}, "rootfs": {"type": "layers", "diff_ids": [sha(base), sha(top)]}}).encode()
        with tarfile.open(path, "w") as tf:
            def add(name, data=None, link=None):
                ti = tarfile.TarInfo(name)
                if link:
                    ti.type, ti.linkname = tarfile.SYMTYPE, link
                    tf.addfile(ti)
                else:
                    ti.size = len(data)
                    tf.addfile(ti, io.BytesIO(data))
            add("aaa/layer.tar", base)
            add("bbb/layer.tar", link=link_target)
            add("ccc/layer.tar", top)
            add("c1.json", cfg1)
            add("c2.json", cfg2)
            add("manifest.json", _json.dumps([{"Config": "c1.json", "RepoTags": ["s:base"], "Layers": ["aaa/layer.tar"]},
                                               {"Config": "c2.json", "RepoTags": ["s:app"], "Layers": ["bbb/layer.tar", "ccc/layer.tar"]}]).encode())

    good = tmp_path / "good.tar"
    build(good, "../aaa/layer.tar")
    r = pallet(pallet_dirs, "load", "-i", good)
    assert r.out == "Loaded image: s:base\nLoaded image: s:app\n"
    bad = tmp_path / "bad.tar"
    build(bad, "../../../../etc/passwd")
    r = pallet(pallet_dirs, "load", "-i", bad, root=tmp_path / "r2", check=False)
    assert r.returncode == 1 and "lacks layers" in r.err and r.err.count("\n") == 1
