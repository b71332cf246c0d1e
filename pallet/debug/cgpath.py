"""Who owns a cgroup, from its path alone: one table entry per runtime and driver.

The seed's pid2pod greps the `:memory:` line and strips `cri-containerd-`;
that breaks on cgroup v2 (one `0::/...` line), on the systemd driver and on
every other runtime. Here each naming scheme is one `Rule`; `identify()`
finds the outermost container match (the one the host's runtimes know: a
container may create sub-cgroups of its own, e.g. systemd or docker inside
it) and, separately, the Kubernetes or Podman pod the path sits in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pallet.linux.proc import CgroupMembership, parse_proc_cgroup  # noqa: F401 (re-exported for callers)

_ID = r"(?P<id>[0-9a-f]{64})"
_END = r"(?=/|$)"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern
    runtimes: tuple[str, ...]   # candidates, most likely first (cgroupfs kubepods is ambiguous)
    driver: str                 # "systemd" or "cgroupfs"
    role: str = "container"     # or "conmon" (the runtime's monitor, not the workload)


def _rule(name, pattern, runtimes, driver, role="container") -> Rule:
    return Rule(name, re.compile(pattern), tuple(runtimes), driver, role)


# Order breaks ties between rules matching at the same place: the conmon
# rules come before the container rules whose prefix they share.
RULES: tuple[Rule, ...] = (
    # Docker: systemd driver `system.slice:docker:<id>` -> /system.slice/docker-<id>.scope
    _rule("docker-systemd", r"/docker-" + _ID + r"\.scope" + _END, ["docker"], "systemd"),
    # Docker: cgroupfs driver, cgroup-parent "/docker" (also docker-in-docker outer level)
    _rule("docker-cgroupfs", r"/docker/" + _ID + _END, ["docker"], "cgroupfs"),
    # containerd CRI plugin, SystemdCgroup = true
    _rule("containerd-systemd", r"/cri-containerd-" + _ID + r"\.scope" + _END, ["containerd"], "systemd"),
    # CRI-O: conmon gets its own scope (conmon_cgroup = "system.slice" or "pod")
    _rule("crio-conmon-systemd", r"/crio-conmon-" + _ID + r"\.scope" + _END, ["cri-o"], "systemd", "conmon"),
    _rule("crio-systemd", r"/crio-" + _ID + r"\.scope" + _END, ["cri-o"], "systemd"),
    _rule("crio-conmon-cgroupfs", r"/crio-conmon-" + _ID + _END, ["cri-o"], "cgroupfs", "conmon"),
    _rule("crio-cgroupfs", r"/crio-" + _ID + _END, ["cri-o"], "cgroupfs"),
    # Podman: conmon in libpod-conmon-<id>.scope, the container in libpod-<id>.scope
    _rule("podman-conmon-systemd", r"/libpod-conmon-" + _ID + r"\.scope" + _END, ["podman"], "systemd", "conmon"),
    _rule("podman-systemd", r"/libpod-" + _ID + r"\.scope" + _END, ["podman"], "systemd"),
    # Podman cgroupfs: /libpod_parent/libpod-<id> (conmon goes to /libpod_parent/conmon, no id)
    _rule("podman-cgroupfs", r"/libpod-" + _ID + _END, ["podman"], "cgroupfs"),
    # pallet's own naming
    _rule("pallet-systemd", r"/pallet-" + _ID + r"\.scope" + _END, ["pallet"], "systemd"),
    # pallet-runtime accepts any runc-style id, and /pallet/ holds nothing else
    _rule("pallet-cgroupfs", r"^/pallet/(?P<id>[\w+.-]+)" + _END, ["pallet"], "cgroupfs"),
    # kubelet cgroupfs driver: the runtime names the leaf with the bare id
    # (containerd CRI, dockershim/cri-dockerd); CRI-O's crio-<id> is above.
    _rule("kubepods-cgroupfs", r"/kubepods(?:/(?:burstable|besteffort))?/pod[0-9a-f-]{36}/" + _ID + _END,
          ["containerd", "docker"], "cgroupfs"),
    # containerd without CRI (ctr run, nerdctl): /<namespace>/<id>. nerdctl's ids are 64 hex, but
    # `ctr run IMAGE web` names the container web: any containerd identifier (containerd
    # identifiers/validate.go: alphanumerics joined by single '.', '_' or '-').
    _rule("containerd-namespace", r"^/(?:k8s\.io|default|moby|buildkit)/"
          r"(?P<id>[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*)" + _END, ["containerd"], "cgroupfs"),
)

# Pods: kubelet's systemd driver writes the pod uid with "_" for "-"
# (systemd unit names reserve "-" for the slice hierarchy).
_POD_RULES: tuple[tuple[str, re.Pattern], ...] = (
    ("kubepods-systemd", re.compile(
        r"[/-]kubepods(?:-(?P<qos>burstable|besteffort))?-pod(?P<uid>[0-9a-f_]{36})\.slice" + _END)),
    ("kubepods-cgroupfs", re.compile(
        r"/kubepods(?:/(?P<qos>burstable|besteffort))?/pod(?P<uid>[0-9a-f-]{36})" + _END)),
    ("podman-pod", re.compile(r"libpod_pod_(?P<podid>[0-9a-f]{64})(?:\.slice)?" + _END)),
)


# Cgroups of runtime machinery that carry no container id: whois says what they are.
INFRASTRUCTURE: tuple[tuple[re.Pattern, str], ...] = (
    (re.compile(r"^/libpod_parent/conmon$"), "podman's conmon (cgroupfs manager: every conmon shares this cgroup)"),
    (re.compile(r"/system\.slice/(?:docker|containerd|crio|podman)\.service$"), "a container runtime daemon"),
    (re.compile(r"/kubepods(?:\.slice)?$"), "the kubelet's pods root"),
)


def infrastructure(path: str) -> str:
    for pattern, what in INFRASTRUCTURE:
        if pattern.search(path):
            return what
    return ""


@dataclass(frozen=True)
class CgroupOwner:
    """What a cgroup path says about its owner."""

    path: str
    runtimes: tuple[str, ...] = ()   # empty: no container naming found
    driver: str = ""
    role: str = ""
    container_id: str = ""
    rule: str = ""
    pod_uid: str = ""                # Kubernetes pod uid, "-" restored
    qos: str = ""                    # guaranteed, burstable or besteffort
    podman_pod: str = ""             # Podman pod id
    container_cgroup: str = ""       # the path up to the container's own cgroup

    @property
    def is_container(self) -> bool:
        return bool(self.container_id)

    @property
    def runtime(self) -> str:
        return self.runtimes[0] if self.runtimes else ""


def identify(path: str) -> CgroupOwner:
    best = None
    for rule in RULES:
        m = rule.pattern.search(path)
        if m and (best is None or m.start() < best[1].start()):
            best = (rule, m)
    fields: dict = {}
    for name, pattern in _POD_RULES:
        m = pattern.search(path)
        if not m:
            continue
        groups = m.groupdict()
        if groups.get("uid"):
            fields["pod_uid"] = groups["uid"].replace("_", "-")
            fields["qos"] = groups.get("qos") or "guaranteed"
        if groups.get("podid"):
            fields["podman_pod"] = groups["podid"]
    if best is None:
        return CgroupOwner(path=path, **fields)
    rule, m = best
    return CgroupOwner(
        path=path, runtimes=rule.runtimes, driver=rule.driver, role=rule.role,
        container_id=m.group("id"), rule=rule.name, container_cgroup=path[: m.end()], **fields,
    )


# Which line to trust first: the memory hierarchy on v1 (every runtime puts
# the container there), then the unified one, then the rest; name=systemd
# last since on hybrid hosts systemd's own tree may differ from the others.
def _preference(line: CgroupMembership) -> int:
    if "memory" in line.controllers:
        return 0
    if line.hierarchy_id == 0 and not line.controllers:
        return 1
    if any(c.startswith("name=") for c in line.controllers):
        return 3
    return 2


def owner_of(lines) -> CgroupOwner:
    """The owner from the most telling line; a host process gets an owner without id."""
    ordered = sorted(lines, key=_preference)
    owners = [identify(line.path) for line in ordered]
    for owner in owners:
        if owner.is_container:
            return owner
    for owner in owners:
        if owner.pod_uid or owner.podman_pod:
            return owner
    return owners[0] if owners else CgroupOwner(path="")


def primary_path(lines) -> str:
    """The cgroup path to show: the owner's line, else memory's, else the first."""
    return owner_of(lines).path
