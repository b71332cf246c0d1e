"""filesystem's pure parts: cp argument parsing, Docker's cp rules as a plan, path splitting, and the
A/C/D changes of an upper dir over lower layers (temp dirs; the whiteout case needs root for mknod)."""

from __future__ import annotations

import os

import pytest

from pallet.engine import filesystem as fs
from pallet.errors import InvalidArgument, NotFound


def test_parse_cp_arg():
    assert fs.parse_cp_arg("web:/etc/passwd") == ("web", "/etc/passwd")
    assert fs.parse_cp_arg("web:") == ("web", "/")
    assert fs.parse_cp_arg("/host/path:with:colons") == ("", "/host/path:with:colons")
    assert fs.parse_cp_arg("./rel:x") == ("", "./rel:x")
    assert fs.parse_cp_arg("dir/sub:x") == ("", "dir/sub:x")   # a "/" before the ":" is a host path
    assert fs.parse_cp_arg("-") == ("", "-")
    assert fs.parse_cp_arg("plain") == ("", "plain")
    with pytest.raises(InvalidArgument):
        fs.parse_cp_arg(":/x")


def test_split():
    assert fs._split("/a/b") == ("/a", "b", False, False)
    assert fs._split("/a/b/") == ("/a", "b", True, False)
    assert fs._split("/a/b/.") == ("/a", "b", True, True)
    assert fs._split("/b") == ("/", "b", False, False)
    assert fs._split("/") == ("", "", True, True)
    assert fs._split("rel") == ("", "rel", False, False)
    assert fs._split(".") == ("", "", True, True)


def _ep(**kw):
    base = dict(cdir="/src", member="./f", label="f", exists=True, is_dir=False, trailing_slash=False,
                contents=False, shown="x", dir_path="")
    base.update(kw)
    return fs.Endpoint(**base)


def test_plan_copy_follows_dockers_table():
    file_, dir_ = _ep(), _ep(member="./d", label="d", is_dir=True, dir_path="/src/d")
    missing = _ep(cdir="/dst", member="./new", label="new", exists=False, shown="/dst/new")
    existing_dir = _ep(cdir="/", member="./dst", label="dst", is_dir=True, dir_path="/dst")
    existing_file = _ep(cdir="/dst", member="./old", label="old")
    assert fs.plan_copy(file_, missing) == fs.CopyPlan("/dst", "new")
    assert fs.plan_copy(file_, existing_dir) == fs.CopyPlan("/dst")
    assert fs.plan_copy(file_, existing_file) == fs.CopyPlan("/dst", "old")
    assert fs.plan_copy(dir_, missing) == fs.CopyPlan("/dst", "new", as_dir=True)
    assert fs.plan_copy(dir_, existing_dir) == fs.CopyPlan("/dst")
    contents = _ep(cdir="/src/d", member=".", label="d", is_dir=True, contents=True, dir_path="/src/d")
    assert fs.plan_copy(contents, existing_dir) == fs.CopyPlan("/dst")
    assert fs.plan_copy(contents, missing) == fs.CopyPlan("/dst", "new", as_dir=True)
    followed = _ep(cdir="/proc/1/fd/7", member=".", label="link", is_dir=True, dir_path="/proc/1/fd/7")
    assert fs.plan_copy(followed, existing_dir) == fs.CopyPlan("/dst", "link", as_dir=True)
    with pytest.raises(InvalidArgument, match="cannot copy a directory to a file"):
        fs.plan_copy(dir_, existing_file)
    with pytest.raises(NotFound, match="does not exist"):
        fs.plan_copy(file_, _ep(cdir="/dst", member="./new", label="new", exists=False, trailing_slash=True))
    with pytest.raises(NotFound):
        fs.plan_copy(_ep(exists=False), missing)


def _touch(path, text="x"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def test_changes_added_changed_and_unchanged_parents(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    _touch(lower / "etc" / "passwd")
    _touch(lower / "usr" / "bin" / "tool")
    (lower / "usr" / "share").mkdir()
    _touch(upper / "etc" / "passwd", "changed")
    _touch(upper / "usr" / "share" / "new")           # usr copied up unchanged; share's mtime moved
    os.utime(upper / "usr", ns=(os.stat(lower / "usr").st_atime_ns, os.stat(lower / "usr").st_mtime_ns))
    os.utime(upper / "etc", ns=(os.stat(lower / "etc").st_atime_ns, os.stat(lower / "etc").st_mtime_ns))
    _touch(upper / "added" / "deep" / "f")
    _touch(upper / "etc" / "hostname", "")            # the engine's mount target: not a change
    got = [str(c) for c in fs.changes(str(upper), [str(lower)])]
    assert got == ["A /added", "A /added/deep", "A /added/deep/f", "C /etc/passwd", "C /usr/share", "A /usr/share/new"]


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts are 0/0 char devices: mknod needs root")
def test_changes_whiteouts_and_lower_layers(tmp_path):
    base, mid, upper = tmp_path / "base", tmp_path / "mid", tmp_path / "upper"
    _touch(base / "bin" / "vi")
    _touch(base / "bin" / "sh")
    _touch(base / "gone" / "x")
    mid.mkdir()
    os.mknod(mid / "gone", 0o020000, os.makedev(0, 0))   # deleted in a middle layer
    upper.mkdir()
    (upper / "bin").mkdir()
    os.mknod(upper / "bin" / "vi", 0o020000, os.makedev(0, 0))
    os.mknod(upper / "gone", 0o020000, os.makedev(0, 0))  # already gone below: not a change
    os.utime(upper / "bin", ns=(os.stat(base / "bin").st_atime_ns, os.stat(base / "bin").st_mtime_ns))
    _touch(upper / "newfile")
    got = [str(c) for c in fs.changes(str(upper), [str(mid), str(base)])]
    assert got == ["C /bin", "D /bin/vi", "A /newfile"]
