"""Bad `linux.resources` and `linux.cgroupsPath` through the CLI: one line naming the field, nothing created.

`create` checks them before it makes the state dir, forks or touches a
cgroup, so a refused spec leaves no container, no cgroup dir in any
hierarchy and no process.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import Runtime, leftovers, unique, write_config

pytestmark = [requires_root, pytest.mark.root]


@pytest.fixture
def rt(tmp_path, cleanup):
    return Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup)


def refused(rt, bundle, mutate, verb: str = "run") -> str:
    """Run `verb` on a config edited by `mutate`; check it failed and left nothing; return stderr."""
    write_config(bundle, ["true"], mutate)
    cid = unique("bad")
    r = rt(verb, "--bundle", str(bundle), cid)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert not (Path(rt.root) / cid).exists()
    assert rt.ok("list", "-q").stdout.split() == []
    assert leftovers(cid) == []
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def resources(doc: dict):
    return lambda c: c["linux"].__setitem__("resources", doc)


@pytest.mark.parametrize("doc, message", [
    ({"memory": {"limit": -5}}, "linux.resources.memory.limit: -5 is negative"),
    ({"memory": {"limit": "1g"}}, "linux.resources.memory.limit: '1g' is not an integer"),
    ({"pids": {"limit": -2}}, "linux.resources.pids.limit: -2 is negative"),
    ({"cpu": {"cpus": "1-0"}}, "linux.resources.cpu.cpus: '1-0' has a range that ends before it starts"),
    ({"cpu": {"shares": -1}}, "linux.resources.cpu.shares: -1 is negative"),
    ({"memory": {"swappiness": 101}}, "linux.resources.memory.swappiness: 101 is above 100"),
    ({"blockIO": {"weight": 5}}, "linux.resources.blockIO.weight: 5 is not 0 or in 10..1000"),
    ({"devices": [{"allow": True, "type": "x"}]}, "linux.resources.devices[0].type: 'x' is not one of a, b, c"),
    ({"devices": [{"type": "c"}]}, "linux.resources.devices[0].allow: None is missing"),
    ({"hugepageLimits": [{"pageSize": "2XB", "limit": 1}]}, "linux.resources.hugepageLimits[0].pageSize: '2XB' is not a page size"),
    ({"unified": {"../memory.max": "1"}}, "linux.resources.unified: '../memory.max' is not a cgroup file name"),
    ({"memory": []}, "linux.resources.memory: [] is not an object"),
])
@pytest.mark.parametrize("verb", ["run", "create"])
def test_bad_limit_names_the_field_and_creates_nothing(rt, bundle, doc, message, verb):
    line = refused(rt, bundle, resources(doc), verb)
    assert line.startswith(f"pallet-runtime: {message}"), line


@pytest.mark.parametrize("path", ["/../etc", "a/../../b", "/pallet/../../x", "/"])
def test_cgroups_path_escaping_the_root_is_refused(rt, bundle, path):
    before = {d: set(os.listdir(f"/sys/fs/cgroup/{d}")) for d in os.listdir("/sys/fs/cgroup")
              if os.path.isdir(f"/sys/fs/cgroup/{d}")}
    line = refused(rt, bundle, lambda c: c["linux"].__setitem__("cgroupsPath", path))
    assert f"cgroupsPath: {path!r}" in line, line
    for d, names in before.items():
        new = set(os.listdir(f"/sys/fs/cgroup/{d}")) - names
        assert not {n for n in new if n in ("etc", "b", "x")}, (d, new)
