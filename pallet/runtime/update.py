"""`update ID`: change a live container's resources (runc's flags, or -r FILE).

The flags become an OCI `linux.resources` document (`from_flags`, pure),
which overlays the container's current resources section by section, is
applied to the cgroup, and is saved back into state.json's config so the
next update starts from it. As in runc, `-r` (a LinuxResources JSON, or
`-` for stdin) replaces the flags, and device rules are left alone.
"""

from __future__ import annotations

import json
import re
import sys

from pallet.errors import InvalidArgument
from pallet.oci.resources import LinuxResources
from pallet.runtime import state as st

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp])?i?b?$", re.IGNORECASE)
_UNITS = {None: 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: str, flag: str) -> int:
    """Docker's RAMInBytes: 1024, 100m, 1.5g (binary units); -1 unlimited."""
    if value.strip() == "-1":
        return -1
    m = _SIZE.match(value.strip())
    if not m:
        raise InvalidArgument(f"--{flag}: {value!r} is not a size like 512m or 1g")
    return int(float(m.group(1)) * _UNITS[m.group(2) and m.group(2).lower()])


def parse_int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidArgument(f"--{flag}: {value!r} is not an integer") from None


# flag -> (section, OCI key, parser); runc spells the shares flag --cpu-share.
FLAGS: dict[str, tuple[str, str, object]] = {
    "memory": ("memory", "limit", parse_bytes),
    "memory-swap": ("memory", "swap", parse_bytes),
    "memory-reservation": ("memory", "reservation", parse_bytes),
    "kernel-memory": ("memory", "kernel", parse_bytes),
    "kernel-memory-tcp": ("memory", "kernelTCP", parse_bytes),
    "cpu-quota": ("cpu", "quota", parse_int),
    "cpu-period": ("cpu", "period", parse_int),
    "cpu-shares": ("cpu", "shares", parse_int),
    "cpu-share": ("cpu", "shares", parse_int),
    "cpu-rt-period": ("cpu", "realtimePeriod", parse_int),
    "cpu-rt-runtime": ("cpu", "realtimeRuntime", parse_int),
    "cpuset-cpus": ("cpu", "cpus", lambda v, f: v),
    "cpuset-mems": ("cpu", "mems", lambda v, f: v),
    "pids-limit": ("pids", "limit", parse_int),
    "blkio-weight": ("blockIO", "weight", parse_int),
}


def from_flags(opts: dict) -> LinuxResources:
    """The flags set in `opts` as a partial LinuxResources (validated)."""
    doc: dict = {}
    for flag, (section, key, parse) in FLAGS.items():
        if opts.get(flag) is not None:
            doc.setdefault(section, {})[key] = parse(str(opts[flag]), flag)  # type: ignore[operator]
    return LinuxResources.from_json(doc)


def read_resources(path: str) -> LinuxResources:
    try:
        text = sys.stdin.read() if path == "-" else open(path).read()
        doc = json.loads(text)
    except OSError as exc:
        raise InvalidArgument(f"-r {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidArgument(f"-r {path}: not JSON: {exc}") from None
    return LinuxResources.from_json(doc)


def update(root: str, container_id: str, changes: LinuxResources) -> list[str]:
    """Apply `changes` over the container's resources; returns the warnings."""
    cs = st.load(root, container_id)
    st.require(cs, st.status(root, cs), (st.CREATED, st.RUNNING, st.PAUSED), "update")
    from pallet.runtime.pause import manager

    mgr = manager(cs, "update")
    config = dict(cs.config or {})
    linux = dict(config.get("linux") or {})
    merged = LinuxResources.from_json(linux.get("resources") or {}).merged(changes)
    warnings = mgr.apply(merged, skip_devices=True)
    linux["resources"] = merged.to_json()
    config["linux"] = linux
    st.save(root, st.ContainerState.from_json({**cs.to_json(), "config": config}))
    return warnings


def main(root: str, opts: dict, pos: list[str], log) -> int:
    if len(pos) != 1:
        raise InvalidArgument('"update" requires exactly 1 argument(s): the container id')
    changes = read_resources(opts["resources"]) if opts.get("resources") else from_flags(opts)
    for warning in update(root, pos[0], changes):
        sys.stderr.write(f"pallet-runtime: warning: {warning}\n")
    return 0
