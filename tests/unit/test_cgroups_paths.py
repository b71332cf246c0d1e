"""cgroupsPath forms (runc's rules) and detect()."""

import pytest

from pallet.cgroups import CgroupMode, detect, resolve
from pallet.cgroups.paths import expand_slice
from pallet.errors import InvalidArgument


@pytest.mark.parametrize("given,expected", [
    (None, "/pallet/abc"),
    ("", "/pallet/abc"),
    ("/a/b", "/a/b"),
    ("a/b", "/a/b"),
    ("/a//b/", "/a/b"),
    ("/a/x/../b", "/a/b"),
    ("system.slice:pallet:abc", "/system.slice/pallet-abc.scope"),
    (":pallet:abc", "/system.slice/pallet-abc.scope"),
    ("user-1000.slice:docker:abc", "/user.slice/user-1000.slice/docker-abc.scope"),
    ("machine.slice::abc", "/machine.slice/-abc.scope"),       # runc's literal rule
    ("system.slice:pallet:my-sub.slice", "/system.slice/my-sub.slice"),
    ("-.slice:p:abc", "/p-abc.scope"),
])
def test_resolve(given, expected):
    assert resolve(given, "abc") == expected


@pytest.mark.parametrize("bad", ["../etc", "/a/../../b", "a/../..", "/", ".", "bad.slic:p:n", "a--b.slice:p:n"])
def test_resolve_refuses(bad):
    with pytest.raises(InvalidArgument, match="cgroupsPath"):
        resolve(bad, "abc")


def test_bad_id_refused():
    with pytest.raises(InvalidArgument):
        resolve(None, "../x")


def test_expand_slice():
    assert expand_slice("a-b-c.slice") == "/a.slice/a-b.slice/a-b-c.slice"
    assert expand_slice("-.slice") == "/"
    with pytest.raises(InvalidArgument):
        expand_slice("-a.slice")


def test_detect_this_host_is_hybrid():
    # MACHINE-FACTS: tmpfs at /sys/fs/cgroup with v1 hierarchies and cgroup2 at ./unified.
    assert detect() is CgroupMode.HYBRID


def test_detect_plain_dir_is_v1(tmp_path):
    assert detect(str(tmp_path)) is CgroupMode.V1
