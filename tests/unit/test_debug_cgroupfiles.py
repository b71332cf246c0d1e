"""usage's cgroup readers over fake v1 and v2 cgroup dirs; tree annotation; output helpers."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_debug_layouts as layouts  # noqa: E402

from pallet.debug import usage as u  # noqa: E402

MiB = 1 << 20

V1_STAT = """cache 8192
rss 104857600
inactive_file 4096
total_cache 20971520
total_rss 104857600
total_inactive_file 10485760
total_active_file 10485760
"""

V2_STAT = """anon 104857600
file 20971520
kernel 1048576
inactive_file 10485760
active_file 10485760
"""


def test_memory_v1_docker_accounting(tmp_path):
    (tmp_path / "memory.usage_in_bytes").write_text(str(130 * MiB))
    (tmp_path / "memory.stat").write_text(V1_STAT)
    (tmp_path / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (tmp_path / "memory.memsw.usage_in_bytes").write_text(str(132 * MiB))
    m = u.memory_v1(str(tmp_path))
    assert m.usage == 120 * MiB and m.raw_usage == 130 * MiB and m.inactive_file == 10 * MiB
    assert m.limit is None and m.swap == 2 * MiB and m.version == "v1"


def test_memory_v2_docker_accounting(tmp_path):
    (tmp_path / "memory.current").write_text(str(130 * MiB))
    (tmp_path / "memory.stat").write_text(V2_STAT)
    (tmp_path / "memory.max").write_text(str(256 * MiB))
    (tmp_path / "memory.swap.current").write_text("0\n")
    m = u.memory_v2(str(tmp_path))
    assert m.usage == 120 * MiB and m.limit == 256 * MiB and m.swap == 0 and m.version == "v2"
    (tmp_path / "memory.max").write_text("max\n")
    assert u.memory_v2(str(tmp_path)).limit is None


def test_cpu_time_both_versions(tmp_path):
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "cpuacct.usage").write_text("1500000000\n")
    assert u.cpu_time_ns(str(v1)) == 1_500_000_000
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.stat").write_text("usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n")
    assert u.cpu_time_ns(str(v2)) == 2_500_000_000


def test_cgroup_dir_picks_the_controller_hierarchy():
    from pallet.debug.cgroupview import HierarchyInfo, cgroup_dir
    from pallet.linux.proc import parse_proc_cgroup

    hs = [HierarchyInfo("v1", ("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct"),
          HierarchyInfo("v1", ("memory",), "/sys/fs/cgroup/memory"),
          HierarchyInfo("v2", ("hugetlb",), "/sys/fs/cgroup/unified")]
    lines = parse_proc_cgroup("4:memory:/docker/x\n3:cpu,cpuacct:/docker/x\n0::/docker/x\n")
    assert cgroup_dir(hs, lines, "memory") == "/sys/fs/cgroup/memory/docker/x"
    assert cgroup_dir(hs, lines, "cpuacct") == "/sys/fs/cgroup/cpu,cpuacct/docker/x"
    assert cgroup_dir(hs, lines, "hugetlb") == "/sys/fs/cgroup/unified/docker/x"
    v2 = [HierarchyInfo("v2", ("cpu", "memory", "pids"), "/sys/fs/cgroup")]
    assert cgroup_dir(v2, parse_proc_cgroup("0::/system.slice/docker-x.scope\n"), "memory") == \
        "/sys/fs/cgroup/system.slice/docker-x.scope"


def test_tree_annotates_containers_and_pods(tmp_path):
    from pallet.debug.attribution import Attributor
    from pallet.debug.catalog import Catalog
    from pallet.debug.cgroupview import tree
    from pallet.debug.paths import HostPaths

    uid, cid = layouts.UID, layouts.CID
    paths = HostPaths(root=str(tmp_path / "node"), pallet_root=str(tmp_path / "p"))
    layouts.docker_container(paths, cid, name="web", pid=1)
    fs = tmp_path / "memory"
    leaf = fs / "kubepods" / "burstable" / f"pod{uid}" / cid
    leaf.mkdir(parents=True)
    (leaf / "cgroup.procs").write_text("1\n2\n")
    (leaf / "sub").mkdir()
    nodes = tree(str(fs), "/", Attributor(Catalog(paths)))
    by_path = {n.path: n for n in nodes}
    assert by_path[f"/kubepods/burstable/pod{uid}/{cid}"].owner.startswith("docker:web")
    assert by_path[f"/kubepods/burstable/pod{uid}/{cid}"].nprocs == 2
    assert by_path[f"/kubepods/burstable/pod{uid}"].owner == f"pod {uid} (burstable)"
    assert by_path[f"/kubepods/burstable/pod{uid}/{cid}/sub"].owner == ""
    assert [n.depth for n in nodes] == [0, 1, 2, 3, 4, 5]


def test_overlay_upper_dirs_from_mountinfo():
    from pallet.debug.mounts import mount_of, overlay_upper_dirs
    from pallet.linux.proc import parse_mountinfo

    text = (
        "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
        "300 27 0:90 / /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs rw,relatime - overlay overlay "
        "rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs,"
        "upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs,"
        "workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/work\n"
    )
    mounts = tuple(parse_mountinfo(text))
    assert overlay_upper_dirs(mounts) == {
        "/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs":
            "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs"}
    assert mount_of("/etc", mounts).fstype == "ext4"


def test_fs_usage_sorted_by_size(tmp_path):
    from pallet.debug.catalog import Catalog
    from pallet.debug.fsusage import usage
    from pallet.debug.paths import HostPaths

    paths = HostPaths(root=str(tmp_path / "node"), pallet_root=str(tmp_path / "p"))
    layouts.docker_container(paths, layouts.CID, name="small", files={"a": b"x" * 5000})
    layouts.podman_container(paths, "3" * 64, name="big", files={"d/b": b"y" * 300_000, "d/c": b"z" * 10})
    layouts.crio_container(paths, "6" * 64, pod="p", namespace="n", uid=layouts.UID, container="c",
                           sandbox_id=layouts.SID)
    rows, problems = usage(Catalog(paths))
    assert [r.name for r in rows] == ["big", "small", "c"]
    assert rows[0].size >= 300_000 and rows[0].files == 3
    assert rows[1].size >= 5000 and rows[0].fs_type
    assert rows[2].size == 0


@pytest.mark.parametrize("text,seconds", [("10s", 10.0), ("500ms", 0.5), ("1m", 60.0), ("2", 2.0), ("1.5s", 1.5)])
def test_durations(text, seconds):
    from pallet.cli.debug import _duration

    assert _duration(text) == seconds


def test_render_helpers():
    from pallet.debug.render import fallback_render, go_keys, human_bytes, table

    assert go_keys({"pod_uid": 1, "container_id": 2, "pid": 3, "name": 4}) == \
        {"PodUID": 1, "ContainerID": 2, "PID": 3, "Name": 4}
    assert fallback_render("{{.A}}\\t{{json .B}}", {"A": "x", "B": [1]}) == "x\t[1]"
    assert human_bytes(1536) == "1.5KiB" and human_bytes(None) == "-"
    assert table(["A", "BB"], [[1, 2]], right=frozenset({1})) == "A  BB\n1   2\n"


def test_mode_is_one_of_three():
    from pallet.debug.cgroupview import mode

    assert mode() in ("v1", "hybrid", "v2")
