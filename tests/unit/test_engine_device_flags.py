"""`--device` / `--device-cgroup-rule` parsing and what they add to the spec: no root, no kernel."""

from __future__ import annotations

import os

import pytest

from pallet.engine import devices, spec_builder
from pallet.engine.config import ContainerConfig
from pallet.errors import InvalidArgument, NotFound


@pytest.mark.parametrize("flag,want", [
    ("/dev/sda", ("/dev/sda", "/dev/sda", "rwm")),
    ("/dev/sda:/dev/xvda", ("/dev/sda", "/dev/xvda", "rwm")),
    ("/dev/sda:r", ("/dev/sda", "/dev/sda", "r")),  # a second field made of r, w, m is the permissions
    ("/dev/sda:/dev/xvda:rw", ("/dev/sda", "/dev/xvda", "rw")),
    ("/dev/./sda//:/dev/xvda/", ("/dev/sda", "/dev/xvda", "rwm")),
])
def test_parse_device(flag, want):
    d = devices.parse_device(flag)
    assert (d.host, d.container, d.perms) == want


@pytest.mark.parametrize("flag,words", [
    ("/dev/sda:/dev/xvda:rwx", "bad permissions"), ("/dev/sda:/dev/xvda:rr", "bad permissions"),
    ("sda", "absolute"), ("/dev/sda:xvda", "absolute"), ("/a:/b:r:x", "HOST[:CONTAINER[:PERMS]]"),
])
def test_bad_device_flags_name_the_flag(flag, words):
    with pytest.raises(InvalidArgument, match="--device") as e:
        devices.parse_device(flag)
    assert words in str(e.value)


def test_cgroup_rules():
    assert devices.parse_cgroup_rule("c 1:3 rwm") == {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
    assert devices.parse_cgroup_rule("b 7:* r") == {"allow": True, "type": "b", "major": 7, "access": "r"}
    assert devices.parse_cgroup_rule("a *:* rwm") == {"allow": True, "type": "a", "access": "rwm"}
    for bad in ("c 1:3", "x 1:3 rwm", "c one:3 r", "c 1:3 rwx", "c 1 r"):
        with pytest.raises(InvalidArgument, match="--device-cgroup-rule"):
            devices.parse_cgroup_rule(bad)


def test_resolve_reads_the_host_node():
    nodes, rules = devices.resolve_all(("/dev/null:/dev/mynull:r",), ("c 10:200 rwm",))
    owner = os.stat("/dev/null")
    assert nodes == ({"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
                      "uid": owner.st_uid, "gid": owner.st_gid},)  # the host node's mode and owner, as Docker
    assert rules == ({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"},
                     {"allow": True, "type": "c", "major": 10, "minor": 200, "access": "rwm"})
    with pytest.raises(NotFound, match="no such file"):
        devices.resolve_all(("/dev/no-such-device",), ())
    with pytest.raises(InvalidArgument, match="not a device"):
        devices.resolve_all(("/etc/hostname",), ())


def _spec(**kw) -> dict:
    cfg = ContainerConfig(id="a" * 64, name="web", image="busybox", cmd=("sh",), **kw.pop("cfg", {}))
    return spec_builder.build_spec(cfg, spec_builder.Resolved(rootfs="/r", **kw), spec_builder.HostFacts())


def test_spec_gets_the_nodes_and_rules_after_the_default_deny():
    node = {"path": "/dev/xvda", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600, "uid": 0, "gid": 0}
    rule = {"allow": True, "type": "b", "major": 7, "minor": 0, "access": "r"}
    spec = _spec(devices=(node,), device_rules=(rule,))
    assert spec["linux"]["devices"] == [node]
    assert spec["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}, rule]  # last match wins
    assert "devices" not in _spec()["linux"]
    privileged = _spec(cfg={"privileged": True}, devices=(node,), device_rules=(rule,))
    assert privileged["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]  # already all
