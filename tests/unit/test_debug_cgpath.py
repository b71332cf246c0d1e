"""Cgroup path naming, one case per runtime and driver, v1 and v2 samples.

Samples are shaped as the runtimes write them (docker 20.10-28, containerd
1.6-2.0 CRI, CRI-O 1.2x, Podman 4-5, kubelet 1.2x cgroupfs and systemd drivers).
"""

import pytest

from pallet.debug.cgpath import identify, owner_of, parse_proc_cgroup

CID = "9c8ad7d4885e2601a76bc3e1a4883a48a1c83e50ab4b7205176055a6fd6ec548"
UID = "aebd4ae8-8e1b-11e8-b174-3ca82ae95d28"
UID_ = UID.replace("-", "_")
PODID = "5f1e3a8c2b7d4e6f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f"

CASES = [
    # (path, runtimes, driver, role, pod_uid, qos)
    (f"/docker/{CID}", ("docker",), "cgroupfs", "container", "", ""),
    (f"/system.slice/docker-{CID}.scope", ("docker",), "systemd", "container", "", ""),
    (f"/kubepods/burstable/pod{UID}/{CID}", ("containerd", "docker"), "cgroupfs", "container", UID, "burstable"),
    (f"/kubepods/pod{UID}/{CID}", ("containerd", "docker"), "cgroupfs", "container", UID, "guaranteed"),
    (f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/cri-containerd-{CID}.scope",
     ("containerd",), "systemd", "container", UID, "besteffort"),
    (f"/kubepods.slice/kubepods-pod{UID_}.slice/cri-containerd-{CID}.scope",
     ("containerd",), "systemd", "container", UID, "guaranteed"),
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/docker-{CID}.scope",
     ("docker",), "systemd", "container", UID, "burstable"),
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/crio-{CID}.scope",
     ("cri-o",), "systemd", "container", UID, "burstable"),
    (f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/crio-conmon-{CID}.scope",
     ("cri-o",), "systemd", "conmon", UID, "burstable"),
    (f"/kubepods/besteffort/pod{UID}/crio-{CID}", ("cri-o",), "cgroupfs", "container", UID, "besteffort"),
    (f"/kubepods/besteffort/pod{UID}/crio-conmon-{CID}", ("cri-o",), "cgroupfs", "conmon", UID, "besteffort"),
    (f"/machine.slice/libpod-{CID}.scope", ("podman",), "systemd", "container", "", ""),
    (f"/machine.slice/libpod-{CID}.scope/container", ("podman",), "systemd", "container", "", ""),
    (f"/machine.slice/libpod-conmon-{CID}.scope", ("podman",), "systemd", "conmon", "", ""),
    (f"/libpod_parent/libpod-{CID}", ("podman",), "cgroupfs", "container", "", ""),
    (f"/k8s.io/{CID}", ("containerd",), "cgroupfs", "container", "", ""),
    (f"/default/{CID}", ("containerd",), "cgroupfs", "container", "", ""),
    (f"/pallet/{CID}", ("pallet",), "cgroupfs", "container", "", ""),
    (f"/system.slice/pallet-{CID}.scope", ("pallet",), "systemd", "container", "", ""),
    # kind / k3s nest the kubelet's tree one level down
    (f"/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/"
     f"kubelet-kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope",
     ("containerd",), "systemd", "container", UID, "burstable"),
]


@pytest.mark.parametrize("path,runtimes,driver,role,pod_uid,qos", CASES, ids=[c[0][:60] for c in CASES])
def test_identify(path, runtimes, driver, role, pod_uid, qos):
    owner = identify(path)
    assert owner.container_id == CID
    assert owner.runtimes == runtimes
    assert owner.driver == driver
    assert owner.role == role
    assert owner.pod_uid == pod_uid
    assert owner.qos == qos


def test_docker_in_docker_names_the_outer_container():
    inner = "1" * 64
    owner = identify(f"/docker/{CID}/docker/{inner}")
    assert owner.container_id == CID
    assert owner.container_cgroup == f"/docker/{CID}"


def test_pallet_runtime_ids_need_not_be_hex():
    owner = identify("/pallet/web-1")
    assert owner.runtimes == ("pallet",) and owner.container_id == "web-1"


def test_podman_pod_slice():
    owner = identify(f"/machine.slice/machine-libpod_pod_{PODID}.slice/libpod-{CID}.scope")
    assert owner.runtimes == ("podman",) and owner.podman_pod == PODID


@pytest.mark.parametrize("path", ["/", "/system.slice/sshd.service", "/user.slice/user-0.slice/session-1.scope",
                                  "/docker", "/system.slice/docker.service", "/process_api/d690927ca7eb43b31aaf7c8970be560a"])
def test_host_paths_are_not_containers(path):
    assert not identify(path).is_container


def test_pod_level_cgroup_has_pod_but_no_container():
    owner = identify(f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice")
    assert not owner.is_container and owner.pod_uid == UID


# /proc/PID/cgroup on a v1 host (docker cgroupfs, as CentOS 7 prints it)
V1_SAMPLE = f"""11:devices:/docker/{CID}
10:cpuset:/docker/{CID}
9:freezer:/docker/{CID}
8:net_cls,net_prio:/docker/{CID}
7:blkio:/docker/{CID}
6:perf_event:/docker/{CID}
5:hugetlb:/docker/{CID}
4:pids:/docker/{CID}
3:cpu,cpuacct:/docker/{CID}
2:memory:/docker/{CID}
1:name=systemd:/docker/{CID}
"""

# hybrid host, systemd driver: name=systemd and the unified line carry the scope
HYBRID_SAMPLE = f"""12:memory:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope
3:cpu,cpuacct:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope
1:name=systemd:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope
0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{UID_}.slice/cri-containerd-{CID}.scope
"""

V2_SAMPLE = f"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{UID_}.slice/crio-{CID}.scope\n"

V2_HOST = "0::/system.slice/sshd.service\n"


def test_parse_v1_lines():
    lines = parse_proc_cgroup(V1_SAMPLE)
    assert len(lines) == 11
    assert lines[8].controllers == ("cpu", "cpuacct") and lines[8].hierarchy_id == 3
    assert owner_of(lines).runtimes == ("docker",)


def test_parse_hybrid_prefers_memory():
    lines = parse_proc_cgroup(HYBRID_SAMPLE)
    owner = owner_of(lines)
    assert owner.container_id == CID and owner.pod_uid == UID and owner.runtime == "containerd"
    assert lines[-1].hierarchy_id == 0


def test_parse_v2():
    owner = owner_of(parse_proc_cgroup(V2_SAMPLE))
    assert owner.runtime == "cri-o" and owner.qos == "besteffort"


def test_v2_host():
    owner = owner_of(parse_proc_cgroup(V2_HOST))
    assert not owner.is_container and owner.path == "/system.slice/sshd.service"


def test_path_with_colon():
    lines = parse_proc_cgroup("1:name=systemd:/system.slice:docker:odd\n")
    assert lines[0].path == "/system.slice:docker:odd"


@pytest.mark.parametrize("path,word", [("/libpod_parent/conmon", "conmon"), ("/system.slice/docker.service", "daemon"),
                                       ("/kubepods.slice", "kubelet"), ("/kubepods", "kubelet")])
def test_infrastructure_cgroups(path, word):
    from pallet.debug.cgpath import infrastructure

    assert word in infrastructure(path) and not identify(path).is_container
