"""`--device` and `--device-cgroup-rule`: the node appears in the container and the devices cgroup lets it be
opened with the permissions asked for, and nothing more. A loop device over a temp file is the test device."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import requires_root
from engine_image import one_error_line, pl  # noqa: F401 (pl is a fixture)

pytestmark = [requires_root, pytest.mark.root,
              pytest.mark.skipif(shutil.which("losetup") is None, reason="losetup is not installed")]

MARK = b"PALLET-LOOP"


@pytest.fixture
def loop(tmp_path, cleanup) -> str:
    """A loop device whose first bytes are MARK; detached afterwards."""
    img = tmp_path / "disk.img"
    img.write_bytes(MARK + b"\0" * (1 << 20))
    dev = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True, check=True).stdout.strip()
    cleanup.add(lambda: subprocess.run(["losetup", "-d", dev], check=False))
    return dev


def test_device_is_created_and_readable(pl, loop):
    r = pl("run", "--rm", "--device", loop, *pl.image, "head", "-c", str(len(MARK)), loop)
    assert r.returncode == 0, r.stderr
    assert r.stdout == MARK.decode()
    r = pl("run", "--rm", *pl.image, "test", "-e", loop)  # without --device: no such node
    assert r.returncode == 1, r.stderr


def test_device_under_another_path_and_cgroup_permissions(pl, loop):
    r = pl("run", "--rm", "--device", f"{loop}:/dev/xvda:r", *pl.image, "sh", "-c",
           f"head -c {len(MARK)} /dev/xvda; echo; echo x | dd of=/dev/xvda 2>&1; echo write=$?")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(MARK.decode() + "\n")
    assert "Operation not permitted" in r.stdout and "write=1" in r.stdout  # r only: the cgroup refuses writes
    r = pl("run", "--rm", "--device", f"{loop}:/dev/xvda", *pl.image, "sh", "-c",
           "echo x | dd of=/dev/xvda bs=1 seek=100 2>&1; echo write=$?")
    assert "write=0" in r.stdout, r.stdout  # the default, rwm
    cid = pl.ok("create", "--device", f"{loop}:/dev/xvda:r", "--device-cgroup-rule", "c 10:200 rwm", *pl.image,
                "true").strip()
    host = pl.inspect(cid)["HostConfig"]
    assert host["Devices"] == [{"PathOnHost": loop, "PathInContainer": "/dev/xvda", "CgroupPermissions": "r"}]
    assert host["DeviceCgroupRules"] == ["c 10:200 rwm"]


def test_device_cgroup_rule_lets_a_node_made_inside_be_opened(pl, loop):
    st = os.stat(loop)
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    script = f"mknod /dev/d b {major} {minor} && head -c {len(MARK)} /dev/d"
    r = pl("run", "--rm", "--device-cgroup-rule", f"b {major}:{minor} r", *pl.image, "sh", "-c", script)
    assert r.returncode == 0 and r.stdout == MARK.decode(), r.stderr
    r = pl("run", "--rm", *pl.image, "sh", "-c", script)  # mknod is allowed, opening it is not
    assert r.returncode == 1 and "Operation not permitted" in r.stderr, r.stderr


def test_bad_device_flags_are_one_line_and_create_nothing(pl, tmp_path):
    for args, words in ((["--device", str(tmp_path / "nope")], "no such file or directory"),
                        (["--device", str(tmp_path)], ""),  # a directory without devices: nothing to add
                        (["--device", "/dev/null:/x:rwz"], "bad permissions"),
                        (["--device", "dev/null"], "absolute"),
                        (["--device", "/etc/passwd"], "not a device"),
                        (["--device-cgroup-rule", "x 1:3 rwm"], "--device-cgroup-rule")):
        r = pl("run", "--rm", *args, *pl.image, "true")
        if not words:
            assert r.returncode == 0, r.stderr
            continue
        assert r.returncode == 125, (args, r.stderr)
        assert words in one_error_line(r), r.stderr
    assert pl.ok("ps", "-aq") == ""
