"""Where `create` puts the init, on both of its paths, and the host layout it reads.

The init is born by clone() in its new namespaces when nothing is joined by
path and no user namespace is asked for, and joins the v1 hierarchies itself
(writing "0" to their `tasks`); otherwise a stage 1 process joins them and
forks it. Either way every hierarchy, and the cgroup2 mount of a hybrid host,
must hold it; a pids limit of 1 (no room for a stage 1 next to the init)
still runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import PALLET_RUNTIME, requires_root
from runtime_helpers import Runtime, unique, write_config

pytestmark = requires_root


@pytest.fixture
def rt(tmp_path, cleanup):
    return Runtime(PALLET_RUNTIME, tmp_path / "state", cleanup, "pallet-runtime")


def _expected_lines(path: str) -> set[str]:
    """The /proc/PID/cgroup lines of a process in `path` on every hierarchy of this host."""
    lines = set()
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hid, controllers, _ = line.split(":", 2)
        if hid == "0" and not os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers") \
                and not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            continue  # no cgroup2 mount to be placed on
        lines.add(f"{hid}:{controllers}:{path}")
    return lines


def _join_our_uts(c):
    # Joining a namespace by path takes the two-stage path (stage 1 setns, then forks the init).
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"] + \
        [{"type": "uts", "path": f"/proc/{os.getpid()}/ns/uts"}]
    c.pop("hostname", None)


@pytest.mark.parametrize("two_stages", [False, True], ids=["born-by-clone", "two-stages"])
def test_the_init_is_in_every_hierarchy(rt, bundle, two_stages):
    path = f"/pallet/{unique('pl')}"

    def config(c):
        c["linux"]["cgroupsPath"] = path
        if two_stages:
            _join_our_uts(c)

    cid = unique()
    write_config(bundle, ["sleep", "60"], config)
    rt.ok("run", "-d", "-b", str(bundle), cid)
    pid = rt.state(cid)["pid"]
    lines = set(Path(f"/proc/{pid}/cgroup").read_text().splitlines())
    assert _expected_lines(path) <= lines, sorted(lines)
    rt.ok("delete", "-f", cid)
    assert not Path(f"/sys/fs/cgroup/pids{path}").exists()


def test_a_pids_limit_of_one_still_runs(rt, bundle):
    write_config(bundle, ["/bin/true"], lambda c: c["linux"].setdefault("resources", {}).update(pids={"limit": 1}))
    r = rt("run", "-b", str(bundle), unique())
    assert r.returncode == 0, r.stderr


def test_layout_matches_mountinfo():
    """hierarchy.layout (no mountinfo) finds what the mountinfo-based reading finds."""
    from pallet.cgroups import hierarchy
    from pallet.cgroups.mode import CgroupMode, detect

    mode = detect()
    found = hierarchy.layout("/sys/fs/cgroup")
    assert found is not None and found[0] == mode
    if mode != CgroupMode.V2:
        assert found[1] == {h.mountpoint: sorted(h.controllers) for h in hierarchy.v1_hierarchies("/sys/fs/cgroup")}
        assert found[2] == (hierarchy.unified_mount("/sys/fs/cgroup") if mode == CgroupMode.HYBRID else None)
