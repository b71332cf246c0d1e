"""import / images / tag / rmi / prune / history / inspect / squash / save --exclude-base, end to end."""

import json
import os
import subprocess
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from _imagekit import Mounted, dir_tar, docker_archive, layer_tar, pallet, store_is_clean

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def ids(dirs, root=None):
    return pallet(dirs, "images", "-q", "--no-trunc", root=root).out.split()


def test_import_stream_file_dir_with_changes(pallet_dirs, rootfs, tmp_path):
    tar = dir_tar(rootfs)
    iid = pallet(pallet_dirs, "import", "-c", 'CMD ["/bin/sh", "-c", "echo hi"]', "-c", "ENV A=1 B=two",
                 "-c", "WORKDIR /tmp", "-c", "EXPOSE 80", "-c", "LABEL k=v", "-c", "USER nobody",
                 "-m", "from a pipe", "-", "bb:v1", input=tar).out.strip()
    assert iid.startswith("sha256:") and len(iid) == 71
    cfg = json.loads(pallet(pallet_dirs, "image", "inspect", "bb:v1").out)[0]
    assert cfg["Config"] == {"Cmd": ["/bin/sh", "-c", "echo hi"], "Env": ["A=1", "B=two"], "WorkingDir": "/tmp",
                             "ExposedPorts": {"80/tcp": {}}, "Labels": {"k": "v"}, "User": "nobody"}
    assert cfg["Comment"] == "from a pipe" and cfg["RepoTags"] == ["bb:v1"]
    (tmp_path / "r.tar").write_bytes(tar)
    pallet(pallet_dirs, "import", tmp_path / "r.tar", "bb:file")
    gz = subprocess.run(["gzip", "-c"], input=tar, capture_output=True, check=True).stdout
    (tmp_path / "r.tar.gz").write_bytes(gz)
    pallet(pallet_dirs, "import", tmp_path / "r.tar.gz", "bb:gz")
    pallet(pallet_dirs, "import", rootfs, "bb:dir")
    out = pallet(pallet_dirs, "images", "--format", "{{.Repository}}:{{.Tag}}").out.split()
    assert sorted(out) == ["bb:dir", "bb:file", "bb:gz", "bb:v1"]
    # one unpacked copy of the identical layer (same diff id) for the plain imports
    layers = list((Path(pallet_dirs["root"]) / "overlay" / "layers").iterdir())
    assert len(layers) == 2  # rootfs tar (stream/file/gz share a diff id) and the dir import's own tar
    with Mounted(pallet_dirs, "bb:dir", "c1", tmp_path / "m") as m:
        assert subprocess.run(["chroot", str(m), "/bin/sh", "-c", "echo ok"], capture_output=True, text=True).stdout == "ok\n"
    r = pallet(pallet_dirs, "import", "-c", "FROM x", "-", input=tar, check=False)
    assert r.returncode == 1 and "FROM is not a valid change command" in r.err


def test_images_listing_flags(pallet_dirs, rootfs):
    tar = dir_tar(rootfs)
    iid = pallet(pallet_dirs, "import", "-c", "LABEL tier=base", "-", "a:1", input=tar).out.strip()
    pallet(pallet_dirs, "tag", "a:1", "a:2")
    pallet(pallet_dirs, "tag", iid[7:19], "localhost:5000/team/a:3")
    out = pallet(pallet_dirs, "images").out.splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert len(out) == 4 and all(iid[7:19] in l for l in out[1:])
    assert pallet(pallet_dirs, "images", "-q").out == iid[7:19] + "\n"
    assert pallet(pallet_dirs, "image", "ls", "-q", "--no-trunc").out == iid + "\n"
    assert "DIGEST" in pallet(pallet_dirs, "images", "--digests").out.splitlines()[0]
    assert pallet(pallet_dirs, "images", "a").out.count("\n") == 3
    assert pallet(pallet_dirs, "images", "--filter", "reference=localhost:5000/*/*", "--format", "{{.Tag}}").out == "3\n"
    assert pallet(pallet_dirs, "images", "--filter", "label=tier=base", "-q").out == iid[7:19] + "\n"
    assert pallet(pallet_dirs, "images", "--filter", "dangling=true", "-q").out == ""
    lines = [json.loads(l) for l in pallet(pallet_dirs, "images", "--format", "json").out.splitlines()]
    assert {l["Tag"] for l in lines} == {"1", "2", "3"}
    table = pallet(pallet_dirs, "images", "--format", "table {{.Repository}}\t{{.Tag}}").out.splitlines()
    assert table[0].split() == ["REPOSITORY", "TAG"]
    r = pallet(pallet_dirs, "images", "--filter", "bogus=1", check=False)
    assert r.returncode == 1 and "invalid filter" in r.err


def test_tag_rmi_prune(pallet_dirs, rootfs):
    tar = dir_tar(rootfs)
    iid = pallet(pallet_dirs, "import", "-", "a:1", input=tar).out.strip()
    pallet(pallet_dirs, "tag", "a:1", "b:1")
    assert pallet(pallet_dirs, "rmi", "b:1").out == "Untagged: b:1\n"
    pallet(pallet_dirs, "tag", "a:1", "b:1")
    r = pallet(pallet_dirs, "rmi", iid[7:19], check=False)
    assert r.returncode == 1 and "must be forced" in r.err
    out = pallet(pallet_dirs, "rmi", "-f", iid[7:19]).out.splitlines()
    assert out[:2] == ["Untagged: a:1", "Untagged: b:1"] and out[2] == f"Deleted: {iid}"
    assert ids(pallet_dirs) == []
    assert list((Path(pallet_dirs["root"]) / "overlay" / "layers").iterdir()) == []
    assert list((Path(pallet_dirs["root"]) / "content" / "blobs" / "sha256").iterdir()) == []
    # dangling images and prune
    pallet(pallet_dirs, "import", "-c", "CMD [\"a\"]", "-", "x:1", input=tar)
    pallet(pallet_dirs, "import", "-c", "CMD [\"b\"]", "-", "x:1", input=tar)  # the first loses its tag
    listing = pallet(pallet_dirs, "images").out.splitlines()
    assert any(l.startswith("<none>       <none>") for l in listing), listing
    out = pallet(pallet_dirs, "image", "prune", "-f").out
    assert out.startswith("Deleted Images:\ndeleted: sha256:") and "Total reclaimed space:" in out
    assert len(ids(pallet_dirs)) == 1
    out = pallet(pallet_dirs, "image", "prune", "-a", "-f").out
    assert "untagged: x:1" in out
    assert ids(pallet_dirs) == [] and store_is_clean(pallet_dirs["root"]) == []


def test_rmi_refuses_image_in_use(pallet_dirs, rootfs):
    from pallet.engine import images as E
    from pallet.engine.context import EngineContext

    pallet(pallet_dirs, "import", "-", "busy:1", input=dir_tar(rootfs))
    with EngineContext.open(root=str(pallet_dirs["root"]), runroot=str(pallet_dirs["runroot"])) as ctx:
        E.prepare_container_rootfs(ctx, "ctr-abc", "busy:1")
    r = pallet(pallet_dirs, "rmi", "busy:1", check=False)
    assert r.returncode == 1 and "ctr-abc" in r.err and r.err.count("\n") == 1
    pallet(pallet_dirs, "image", "prune", "-a", "-f")
    assert len(ids(pallet_dirs)) == 1
    with EngineContext.open(root=str(pallet_dirs["root"]), runroot=str(pallet_dirs["runroot"])) as ctx:
        E.remove_container_rootfs(ctx, "ctr-abc")
    pallet(pallet_dirs, "rmi", "busy:1")


def test_history_and_inspect(pallet_dirs, rootfs, tmp_path):
    arc = tmp_path / "a.tar"
    hist = [{"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created": "2024-01-01T00:00:01Z", "created_by": "/bin/sh -c #(nop)  CMD [\"sh\"]", "empty_layer": True},
            {"created": "2024-01-01T00:00:02Z", "created_by": "/bin/sh -c echo " + "x" * 80, "comment": "c"}]
    docker_archive(arc, [dir_tar(rootfs), layer_tar([{"name": "f", "data": b"1"}])], ["h:1"], history=hist)
    pallet(pallet_dirs, "load", "-i", arc)
    lines = pallet(pallet_dirs, "history", "h:1").out.splitlines()
    assert lines[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert len(lines) == 4 and lines[2].startswith("<missing>") and "…" in lines[1] and lines[1].rstrip().endswith("c")
    assert "0B" in lines[2]
    full = pallet(pallet_dirs, "history", "--no-trunc", "--format", "{{.CreatedBy}}", "h:1").out.splitlines()
    assert full[0] == hist[2]["created_by"]
    assert len(pallet(pallet_dirs, "history", "-q", "h:1").out.split()) == 3
    d = json.loads(pallet(pallet_dirs, "image", "inspect", "h:1").out)[0]
    assert d["RootFS"]["Type"] == "layers" and len(d["RootFS"]["Layers"]) == 2 and d["Os"] == "linux"
    assert pallet(pallet_dirs, "image", "inspect", "-f", "{{.Os}}", "h:1").out == "linux\n"


def app_image(dirs, rootfs, tmp_path, name="app:1"):
    from pallet.engine import images as E
    from pallet.engine.context import EngineContext

    pallet(dirs, "import", "-", "base:1", input=dir_tar(rootfs))
    with EngineContext.open(root=str(dirs["root"]), runroot=str(dirs["runroot"])) as ctx:
        E.prepare_container_rootfs(ctx, "builder", "base:1")
        upper = Path(ctx.snapshotter.upper_dir("builder"))
        (upper / "app").mkdir()
        (upper / "app" / "run.sh").write_text("#!/bin/sh\necho app\n")
        os.mknod(upper / "etc" if False else upper / "gone", 0o020000, os.makedev(0, 0))  # whiteout of nothing
        (upper / "etc").mkdir()
        (upper / "etc" / "motd").write_text("hello\n")
        iid = E.commit_container(ctx, "builder", "base:1", reference=name, changes=['CMD ["/bin/sh", "/app/run.sh"]'])
        E.remove_container_rootfs(ctx, "builder")
    return iid


def test_commit_and_save_exclude_base(pallet_dirs, rootfs, tmp_path):
    app_image(pallet_dirs, rootfs, tmp_path)
    out = tmp_path / "app.tar"
    pallet(pallet_dirs, "save", "--exclude-base", "base:1", "-o", out, "app:1")
    full = tmp_path / "full.tar"
    pallet(pallet_dirs, "save", "-o", full, "app:1")
    assert out.stat().st_size < full.stat().st_size / 2
    with tarfile.open(out) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        names = set(tf.getnames())
    assert manifest[0]["PalletExcludedBase"]["Image"] == "base:1"
    assert manifest[0]["Layers"][0] not in names and manifest[0]["Layers"][1] in names
    # where the base is missing: fails naming the missing layer and the base, loads nothing
    empty = tmp_path / "empty-root"
    r = pallet(pallet_dirs, "load", "-i", out, root=empty, check=False)
    base_diff = manifest[0]["Layers"][0].rsplit("/", 1)[1]
    assert r.returncode == 1 and "base:1" in r.err and base_diff in r.err and r.err.count("\n") == 1, r.err
    assert ids(pallet_dirs, root=empty) == [] and store_is_clean(empty) == []
    assert not (empty / "overlay" / "layers").exists() or list((empty / "overlay" / "layers").iterdir()) == []
    # where the base is present: loads, and runs the same
    base_only = tmp_path / "base.tar"
    pallet(pallet_dirs, "save", "-o", base_only, "base:1")
    pallet(pallet_dirs, "load", "-i", base_only, root=empty)
    assert pallet(pallet_dirs, "load", "-i", out, root=empty).out == "Loaded image: app:1\n"
    dirs2 = dict(pallet_dirs, root=empty)
    with Mounted(dirs2, "app:1", "c", tmp_path / "m") as m:
        r = subprocess.run(["chroot", str(m), "/bin/sh", "/app/run.sh"], capture_output=True, text=True)
        assert r.stdout == "app\n"
        assert (m / "etc" / "passwd").exists() and (m / "etc" / "motd").read_text() == "hello\n"
        assert not (m / "gone").exists()


def test_squash(pallet_dirs, rootfs, tmp_path):
    arc = tmp_path / "m.tar"
    layers = [dir_tar(rootfs),
              layer_tar([{"name": "big", "data": os.urandom(200000)}, {"name": "d", "type": "d"},
                         {"name": "d/a", "data": b"a"}, {"name": "keep", "data": b"k1"}]),
              layer_tar([{"name": ".wh.big"}, {"name": "d", "type": "d"}, {"name": "d/.wh..wh..opq"},
                         {"name": "d/b", "data": b"b"}, {"name": "keep", "data": b"k2"}]),
              layer_tar([{"name": "bin/.wh.vi"}, {"name": "new", "data": b"n"}])]
    docker_archive(arc, layers, ["multi:1"])
    pallet(pallet_dirs, "load", "-i", arc)
    all_id = pallet(pallet_dirs, "image", "squash", "multi:1", "-t", "multi:all").out.strip()
    top2 = pallet(pallet_dirs, "image", "squash", "multi:1", "--from", "2", "-t", "multi:top2").out.strip()
    assert all_id != top2
    for name, n in (("multi:all", 1), ("multi:top2", 3)):
        d = json.loads(pallet(pallet_dirs, "image", "inspect", name).out)[0]
        assert len(d["RootFS"]["Layers"]) == n, name
    sizes = {l.split()[1]: l for l in pallet(pallet_dirs, "images").out.splitlines()[1:]}
    assert set(sizes) == {"1", "all", "top2"}
    hist = pallet(pallet_dirs, "history", "--format", "{{.CreatedBy}}", "multi:all").out.splitlines()
    assert hist[0] == "pallet image squash" and len(hist) == 5
    for name in ("multi:1", "multi:all", "multi:top2"):
        with Mounted(pallet_dirs, name, "c-" + name.split(":")[1], tmp_path / ("m-" + name.split(":")[1])) as m:
            assert not (m / "big").exists() and not (m / "bin/vi").exists()
            assert sorted(os.listdir(m / "d")) == ["b"]
            assert (m / "keep").read_text() == "k2" and (m / "new").read_text() == "n"
            out = subprocess.run(["chroot", str(m), "/bin/sh", "-c", "ls /d; cat /keep"], capture_output=True, text=True).stdout
            assert out == "b\nk2"
    # the fully squashed layer carries no whiteouts, and is smaller than the sum of the originals
    saved = tmp_path / "all.tar"
    pallet(pallet_dirs, "save", "-o", saved, "multi:all")
    with tarfile.open(saved) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        (layer,) = manifest[0]["Layers"]
        inner = tarfile.open(fileobj=tf.extractfile(layer))
        names = inner.getnames()
        assert not [n for n in names if ".wh." in n]
        assert tf.getmember(layer).size <= sum(len(l) for l in layers)


def test_parallel_loads_of_the_same_image(pallet_dirs, rootfs, tmp_path):
    arc = tmp_path / "p.tar"
    docker_archive(arc, [dir_tar(rootfs), layer_tar([{"name": f"f{i}", "data": os.urandom(5000)} for i in range(300)])], ["par:1"])
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: pallet(pallet_dirs, "load", "-i", arc, check=False), range(4)))
    assert all(r.returncode == 0 for r in results), [r.err for r in results]
    assert len(ids(pallet_dirs)) == 1
    assert len(list((Path(pallet_dirs["root"]) / "overlay" / "layers").iterdir())) == 2
    pallet(pallet_dirs, "image", "prune", "-f")
    assert store_is_clean(pallet_dirs["root"]) == []
