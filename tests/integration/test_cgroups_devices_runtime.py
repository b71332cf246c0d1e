"""Device rules end to end: a spec *without* `linux.resources` still gets runc's default device list.

runc always resets the device cgroup (deny all) and then allows its
default devices (/dev/null, zero, full, random, urandom, tty, ptmx, pts,
net/tun, and `m` on every device), whatever the spec says. So inside
such a container `mknod /dev/sda b 8 0` succeeds (CAP_MKNOD is granted
here, so only the cgroup decides: runc allows `m` on every device) but
opening a node outside the list fails with EPERM, while /dev/null works. The same bundles run under runc where it is installed.
Each container's cgroup is under the test's `cgroup_path`, so nothing
is left behind even when a test fails.
"""

from __future__ import annotations

import os

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import RUNC, Runtime, unique, write_config

pytestmark = [requires_root, pytest.mark.root]

RUNTIMES = [PALLET_RUNTIME] + ([RUNC] if os.path.exists(RUNC) else [])


@pytest.fixture(params=RUNTIMES, ids=lambda b: os.path.basename(b))
def rt(request, tmp_path, cleanup):
    return Runtime(request.param, tmp_path / "state", cleanup)


# /dev/fuse: a char device outside the default list that root may open without any capability
# (block devices can't be used for the open probe: this VM refuses to open any disk, even to root).
FUSE = (10, 229)


def requires_fuse() -> None:
    try:
        os.close(os.open("/dev/fuse", os.O_RDONLY | os.O_CLOEXEC))
    except OSError as exc:
        pytest.skip(f"/dev/fuse can't be opened on this host: {exc.strerror}")


def config(cgroups_path: str, devices: list[dict] | None):
    def mutate(c: dict) -> None:
        for kind in ("bounding", "effective", "permitted"):
            c["process"]["capabilities"][kind] = sorted(set(c["process"]["capabilities"][kind]) | {"CAP_MKNOD"})
        c["linux"]["cgroupsPath"] = cgroups_path
        if devices is None:
            c["linux"].pop("resources", None)
        else:
            c["linux"]["resources"] = {"devices": devices}
    return mutate


def probe() -> str:
    return ("mknod /dev/sda b 8 0 && echo mknod-block-ok; "
            f"mknod /dev/fusenode c {FUSE[0]} {FUSE[1]} && echo mknod-char-ok; "
            "(exec 3</dev/fusenode) 2>/dev/shm/err && echo open-ok || cat /dev/shm/err; "
            "echo x >/dev/null && head -c1 /dev/zero >/dev/null && echo null-zero-ok")


def test_spec_without_resources_gets_the_default_device_list(rt, bundle, cgroup_path):
    requires_fuse()
    write_config(bundle, ["sh", "-c", probe()], config(f"{cgroup_path}/{unique('dev')}", None))
    r = rt("run", "--bundle", str(bundle), unique())
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    lines = out.splitlines()
    # "m" is allowed on every device (runc's list): making a node works, opening it does not
    assert "mknod-block-ok" in lines and "mknod-char-ok" in lines, out
    assert "open-ok" not in lines, out
    assert any("Operation not permitted" in line for line in lines), out   # the cgroup, not a missing driver
    assert "null-zero-ok" in lines, out


def test_control_a_spec_rule_for_the_disk_lets_it_open(rt, bundle, cgroup_path):
    """The same probe with the node allowed by a spec rule: the open above failed because of the device rules."""
    requires_fuse()
    allow = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": FUSE[0], "minor": FUSE[1], "access": "rw"}]
    write_config(bundle, ["sh", "-c", probe()], config(f"{cgroup_path}/{unique('dev')}", allow))
    r = rt("run", "--bundle", str(bundle), unique())
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert {"mknod-block-ok", "mknod-char-ok", "open-ok", "null-zero-ok"} <= set(out.splitlines()), out


def test_v1_device_list_of_a_spec_without_resources(bundle, cgroup_path, tmp_path, cleanup):
    """What the kernel holds for such a container on a v1 host: no `a *:* rwm`, the default devices instead."""
    if not os.path.isdir("/sys/fs/cgroup/devices"):
        pytest.skip("no v1 devices hierarchy")
    rt = Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup)
    path = f"{cgroup_path}/{unique('dev')}"
    write_config(bundle, ["sleep", "600"], config(path, None))
    cid = unique()
    rt.ok("create", "--bundle", str(bundle), cid)
    with open(f"/sys/fs/cgroup/devices{path}/devices.list") as f:
        rules = f.read().split("\n")
    assert "a *:* rwm" not in rules
    assert {"c 1:3 rwm", "c 1:5 rwm", "c *:* m", "b *:* m"} <= set(rules), rules
