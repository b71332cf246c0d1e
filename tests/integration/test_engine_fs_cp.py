"""`pallet cp` (Docker's rules, archive semantics, symlinks resolved in the container), `diff`, `export`,
`commit`, `mount`/`unmount` and `container prune`, end to end."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile

import pytest

from conftest import requires_root
from engine_helpers import leftover_mounts
from engine_image import one_error_line, pl, wait_for  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root]

SETUP = ("mkdir -p /data/sub && echo hello > /data/sub/f && echo top > /data/top && chown -R 1234:55 /data "
         "&& ln -s /etc /data/etclink && ln -s /etc/passwd /data/pw && ln -s ../../../../../.. /data/up "
         "&& mkfifo /data/fifo && touch /ready && sleep 300")


@pytest.fixture
def box(pl):
    cid = pl.run_d("--name", "box", "--", "sh", "-c", SETUP)
    wait_for(lambda: pl("exec", "box", "test", "-e", "/ready").returncode == 0, what="the setup")
    return cid


def test_cp_out_follows_dockers_rules(pl, box, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    pl.ok("cp", "box:/data/sub/f", str(out / "renamed"))           # file -> new name
    assert (out / "renamed").read_text() == "hello\n"
    pl.ok("cp", "box:/data/sub/f", str(out))                       # file -> existing dir
    assert (out / "f").read_text() == "hello\n"
    pl.ok("cp", "box:/data/top", str(out / "f"))                   # file -> existing file: overwritten
    assert (out / "f").read_text() == "top\n"
    pl.ok("cp", "box:/data", str(out / "newdir"))                  # dir -> missing: created with the content
    assert sorted(os.listdir(out / "newdir")) == ["etclink", "fifo", "pw", "sub", "top", "up"]
    pl.ok("cp", "box:/data", str(out))                             # dir -> existing dir: copied into it
    assert (out / "data" / "sub" / "f").read_text() == "hello\n"
    pl.ok("cp", "box:/data/.", str(out / "newdir2"))               # dir/. -> content
    assert (out / "newdir2" / "top").exists()
    st = os.lstat(out / "data" / "fifo")
    assert stat.S_ISFIFO(st.st_mode)                                # special files stay what they are
    assert os.readlink(out / "data" / "pw") == "/etc/passwd"        # a link is copied as a link...
    pl.ok("cp", "-L", "box:/data/pw", str(out / "passwd"))          # ...or followed inside the container with -L
    assert (out / "passwd").read_text() == pl.ok("exec", "box", "cat", "/etc/passwd")
    assert os.stat(out / "renamed").st_uid == 0                     # the invoking user's
    pl.ok("cp", "-a", "box:/data/sub/f", str(out / "kept"))
    st = os.stat(out / "kept")
    assert (st.st_uid, st.st_gid) == (1234, 55)                     # -a keeps the source's owner
    r = pl("cp", "box:/data", str(out / "renamed"))
    assert r.returncode == 1 and "cannot copy a directory to a file" in one_error_line(r)
    r = pl("cp", "box:/data/top", str(out / "missing") + "/")
    assert r.returncode == 1 and "does not exist" in one_error_line(r)
    r = pl("cp", "box:/nonexistent", str(out))
    assert r.returncode == 1 and "could not find the file /nonexistent" in one_error_line(r)


def test_cp_in_resolves_symlinks_inside_the_container(pl, box, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("from host\n")
    host_probe = "/etc/pallet-cp-escape-test"
    assert not os.path.exists(host_probe)
    pl.ok("cp", str(src), f"box:/data/etclink/{os.path.basename(host_probe)}")   # /etc of the container
    pl.ok("cp", str(src), "box:/data/up/tmp/escaped.txt")                        # ../.. stops at its root
    assert not os.path.exists(host_probe) and not os.path.exists("/tmp/escaped.txt")
    assert pl.ok("exec", "box", "cat", host_probe, "/tmp/escaped.txt") == "from host\nfrom host\n"
    assert pl.ok("exec", "box", "stat", "-c", "%u:%g", "/tmp/escaped.txt").strip() == "0:0"
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "b").write_text("b\n")
    os.chown(tree / "a" / "b", 4321, 4321)
    pl.ok("cp", str(tree), "box:/")
    assert pl.ok("exec", "box", "cat", "/tree/a/b") == "b\n"
    assert pl.ok("exec", "box", "stat", "-c", "%u", "/tree/a/b").strip() == "0"
    pl.ok("cp", "-a", str(tree) + "/.", "box:/kept")
    assert pl.ok("exec", "box", "stat", "-c", "%u", "/kept/a/b").strip() == "4321"


def test_cp_tar_streams_and_stopped_containers(pl, box, tmp_path):
    data = subprocess.run(pl.argv("cp", "box:/data/sub", "-"), capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as t:
        assert sorted(n.lstrip("./") for n in t.getnames()) == ["sub", "sub/f"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("streamed/x")
        info.size = 3
        t.addfile(info, io.BytesIO(b"xyz"))
    subprocess.run(pl.argv("cp", "-", "box:/tmp"), input=buf.getvalue(), capture_output=True, check=True)
    assert pl.ok("exec", "box", "cat", "/tmp/streamed/x") == "xyz"
    pl.ok("stop", "-t", "0", "box")
    wait_for(lambda: leftover_mounts(pl.root) == [], what="the monitor's cleanup to unmount")
    pl.ok("cp", "box:/data/top", str(tmp_path / "after-stop"))   # mounted for the copy, unmounted again
    assert (tmp_path / "after-stop").read_text() == "top\n"
    (tmp_path / "in").write_text("in\n")
    pl.ok("cp", str(tmp_path / "in"), "box:/in")
    assert leftover_mounts(pl.root) == []
    pl.ok("cp", "box:/in", str(tmp_path / "back"))
    assert (tmp_path / "back").read_text() == "in\n"
    r = pl("cp", "nosuch:/x", str(tmp_path))
    assert r.returncode == 1 and "no such container" in one_error_line(r)
    r = pl("cp", str(tmp_path / "in"), str(tmp_path / "x"))
    assert r.returncode == 1 and "container" in one_error_line(r)
    r = pl("cp", "--bogus", "box:/x", str(tmp_path))
    assert r.returncode == 125


def test_diff_lines_like_docker(pl):
    pl.run_d("--name", "dd", "--", "sh", "-c",
             "mkdir -p /newdir/deep && echo n > /newdir/deep/f && rm /bin/vi && echo x >> /etc/passwd "
             "&& touch /ready && sleep 300")
    wait_for(lambda: pl("exec", "dd", "test", "-e", "/ready").returncode == 0, what="the changes")
    assert pl.ok("diff", "dd").splitlines() == [
        "C /bin", "D /bin/vi", "C /etc/passwd", "A /newdir", "A /newdir/deep", "A /newdir/deep/f", "A /ready",
    ]
    fresh = pl.ok("create", *pl.image, "true").strip()
    assert pl.ok("diff", fresh) == ""
    r = pl("diff", "nosuch")
    assert r.returncode == 1 and "no such container" in one_error_line(r)


def test_export_commit_and_mount(pl, tmp_path):
    pl.run_d("--name", "ee", "--", "sh", "-c", "echo made > /made && touch /ready && sleep 300")
    wait_for(lambda: pl("exec", "ee", "test", "-e", "/ready").returncode == 0, what="the file")
    out = tmp_path / "e.tar"
    pl.ok("export", "-o", str(out), "ee")
    with tarfile.open(out) as t:
        names = {n.lstrip("./") for n in t.getnames()}
        assert {"made", "bin/busybox", "etc/passwd"} <= names
        assert t.extractfile(next(m for m in t.getmembers() if m.name.lstrip("./") == "made")).read() == b"made\n"
    img = pl.ok("commit", "-m", "my change", "-c", 'CMD ["cat", "/made"]', "ee", "committed:1").strip()
    assert img.startswith("sha256:")
    assert pl.ok("run", "--rm", "committed:1") == "made\n"
    assert pl("exec", "ee", "true").returncode == 0  # still running (unpaused after the commit)
    merged = pl.ok("mount", "ee").strip()
    assert open(os.path.join(merged, "made")).read() == "made\n"
    created = pl.ok("create", *pl.image, "true").strip()
    m2 = pl.ok("mount", created).strip()
    assert os.path.ismount(m2) and os.path.exists(os.path.join(m2, "bin", "busybox"))
    pl.ok("unmount", created)
    assert not os.path.ismount(m2)


def test_container_prune_removes_only_stopped(pl):
    keep = pl.run_d("--", "sleep", "300")
    gone = [pl.ok("create", *pl.image, "true").strip()]
    gone.append(pl.run_d("--", "sh", "-c", "head -c 3000000 /dev/zero > /big"))
    wait_for(lambda: pl.inspect(gone[1])["State"]["Status"] == "exited", what="the exit")
    r = pl("container", "prune", input="n\n")
    assert r.returncode == 0 and len(pl.ok("ps", "-aq").split()) == 3
    out = pl.ok("container", "prune", "-f")
    lines = out.splitlines()
    assert lines[0] == "Deleted Containers:" and set(lines[1:3]) == set(gone)
    size = lines[-1].removeprefix("Total reclaimed space: ")
    assert size.endswith("MB") and float(size[:-2]) >= 3.0, out
    assert pl.ok("ps", "-aq", "--no-trunc").split() == [keep]
    r = pl("container", "prune", "-f", "--filter", "bogus=1")
    assert r.returncode == 1 and "invalid filter" in one_error_line(r)


def test_cp_sees_volumes_binds_and_the_etc_files_as_the_container_does(pl, tmp_path):
    bind = tmp_path / "bindsrc"
    bind.mkdir()
    (bind / "bf").write_text("bound\n")
    cid = pl.run_d("--name", "mnt", "-h", "myhost", "-v", "vol1:/vol", "-v", f"{bind}:/bind", "--",
                   "sh", "-c", "echo v > /vol/vf && touch /ready && sleep 300")
    wait_for(lambda: pl("exec", "mnt", "test", "-e", "/ready").returncode == 0, what="the volume write")
    out = tmp_path / "out"
    out.mkdir()
    pl.ok("cp", "mnt:/etc/hostname", str(out))
    assert (out / "hostname").read_text() == "myhost\n"          # the file mounted over the rootfs' empty one
    pl.ok("cp", "mnt:/vol", str(out))                             # a volume under its mount point's name
    assert (out / "vol" / "vf").read_text() == "v\n"
    pl.ok("cp", "mnt:/bind/bf", str(out / "b"))
    assert (out / "b").read_text() == "bound\n"
    pl.ok("cp", str(out / "b"), "mnt:/vol/in-volume")
    assert pl.ok("exec", "mnt", "cat", "/vol/in-volume") == "bound\n"
    pl.ok("rm", "-f", cid)
    assert pl.ok("run", "--rm", "-v", "vol1:/data", *pl.image, "cat", "/data/in-volume") == "bound\n"
    pl.ok("volume", "rm", "vol1")
