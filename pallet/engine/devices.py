"""`--device HOST[:CONTAINER[:PERMS]]` and `--device-cgroup-rule`, as Docker reads them.

Parsing is pure (create checks the flags); `resolve` stats the host's nodes at each start (a device's
numbers can change between starts) and returns what the spec needs: a node to create in the
container (linux.devices) and a cgroup rule allowing it with PERMS (linux.resources.devices).
"""

from __future__ import annotations

import os
import re
import stat

from pallet.errors import InvalidArgument, NotFound
from pallet.values import frozen

DEFAULT_PERMS = "rwm"
_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


@frozen
class DeviceMapping:
    host: str
    container: str
    perms: str = DEFAULT_PERMS


def _valid_perms(p: str) -> bool:
    return bool(p) and all(c in "rwm" for c in p) and len(set(p)) == len(p)


def parse_device(value: str) -> DeviceMapping:
    """HOST[:CONTAINER[:PERMS]]; a second field made of r, w and m is PERMS (Docker's rule)."""
    parts = value.split(":")
    host, container, perms = parts[0], "", DEFAULT_PERMS
    if len(parts) == 3:
        container, perms = parts[1], parts[2]
    elif len(parts) == 2:
        if _valid_perms(parts[1]):
            perms = parts[1]
        else:
            container = parts[1]
    elif len(parts) != 1:
        raise InvalidArgument(f"invalid --device {value!r}: expected HOST[:CONTAINER[:PERMS]]")
    if not _valid_perms(perms):
        raise InvalidArgument(f"invalid --device {value!r}: bad permissions {perms!r} (a combination of r, w, m)")
    if not host.startswith("/") or (container and not container.startswith("/")):
        raise InvalidArgument(f"invalid --device {value!r}: paths must be absolute")
    return DeviceMapping(host=os.path.normpath(host), container=os.path.normpath(container or host), perms=perms)


def parse_cgroup_rule(value: str) -> dict:
    """"TYPE MAJOR:MINOR PERMS" ("c 1:3 rwm", "b 7:* r", "a *:* rwm") -> an OCI device rule."""
    m = _RULE.match(value.strip())
    if not m:
        raise InvalidArgument(f"invalid --device-cgroup-rule {value!r}: expected 'a|b|c MAJOR|*:MINOR|* [rwm]'")
    kind, major, minor, access = m.groups()
    rule = {"allow": True, "type": kind, "access": access}
    if major != "*":
        rule["major"] = int(major)
    if minor != "*":
        rule["minor"] = int(minor)
    return rule


def _node(path: str, container: str, perms: str) -> tuple[dict, dict] | None:
    try:
        s = os.stat(path)
    except OSError as exc:
        raise NotFound(f"error gathering device information while adding custom device {path!r}: "
                       f"{exc.strerror.lower()}") from None
    if stat.S_ISCHR(s.st_mode):
        kind = "c"
    elif stat.S_ISBLK(s.st_mode):
        kind = "b"
    else:
        return None
    major, minor = os.major(s.st_rdev), os.minor(s.st_rdev)
    node = {"path": container, "type": kind, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(s.st_mode), "uid": s.st_uid, "gid": s.st_gid}
    return node, {"allow": True, "type": kind, "major": major, "minor": minor, "access": perms}


def resolve(mapping: DeviceMapping) -> tuple[list[dict], list[dict]]:
    """(linux.devices entries, cgroup rules) for one --device; a directory brings every device below it."""
    if not os.path.isdir(mapping.host):
        found = _node(mapping.host, mapping.container, mapping.perms)
        if found is None:
            raise InvalidArgument(f"--device {mapping.host}: not a device node")
        return [found[0]], [found[1]]
    nodes, rules = [], []
    for top, _dirs, files in os.walk(mapping.host):
        for name in sorted(files):
            path = os.path.join(top, name)
            found = _node(path, mapping.container + path[len(mapping.host):], mapping.perms)
            if found is not None:  # Docker skips what is not a device
                nodes.append(found[0])
                rules.append(found[1])
    return nodes, rules


def resolve_all(devices: tuple[str, ...], cgroup_rules: tuple[str, ...]) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    """Every --device and --device-cgroup-rule of a container: (nodes, rules in order)."""
    nodes: list[dict] = []
    rules: list[dict] = []
    for d in devices:
        n, r = resolve(parse_device(d))
        nodes += n
        rules += r
    rules += [parse_cgroup_rule(r) for r in cgroup_rules]
    return tuple(nodes), tuple(rules)


# Under /dev, what --privileged does not pass on (runc's HostDevices): other mounts' trees, the console, links.
_HOST_SKIP_DIRS = frozenset({"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"})


def host_devices(root: str = "/dev") -> tuple[dict, ...]:
    """--privileged: every character and block device of the host, as linux.devices entries (Docker's rule)."""
    nodes: list[dict] = []
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not (top == root and d in _HOST_SKIP_DIRS))
        for name in sorted(files):
            if top == root and name in ("console", "ptmx"):  # ptmx: the runtime links it to the container's pts
                continue
            path = os.path.join(top, name)
            if os.path.islink(path):  # /dev/stdin, /dev/fd/...: a link, not a device of its own
                continue
            try:
                found = _node(path, path, DEFAULT_PERMS)
            except NotFound:  # gone while walking
                continue
            if found is not None:
                nodes.append(found[0])
    return tuple(nodes)
