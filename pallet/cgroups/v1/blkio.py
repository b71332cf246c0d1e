"""v1 blkio: weights and throttles, one write per device; per-device stats.

blkio.weight exists only with the CFQ/BFQ scheduler (BFQ names it
blkio.bfq.weight); a host without either can't honour a weight, so
asking for one is an Unavailable error naming the field.
"""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.errors import Unavailable
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import BlkioEntry, BlkioStats

NAME = "blkio"

THROTTLES: tuple[tuple[str, str], ...] = (
    ("throttle_read_bps", "blkio.throttle.read_bps_device"),
    ("throttle_write_bps", "blkio.throttle.write_bps_device"),
    ("throttle_read_iops", "blkio.throttle.read_iops_device"),
    ("throttle_write_iops", "blkio.throttle.write_iops_device"),
)

# Files the kernel may spell differently (BFQ): first one present wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "blkio.weight": ("blkio.weight", "blkio.bfq.weight"),
    "blkio.weight_device": ("blkio.weight_device", "blkio.bfq.weight_device"),
    "blkio.leaf_weight": ("blkio.leaf_weight",),
    "blkio.leaf_weight_device": ("blkio.leaf_weight_device",),
}
FIELDS = {"blkio.weight": "weight", "blkio.weight_device": "weightDevice",
          "blkio.leaf_weight": "leafWeight", "blkio.leaf_weight_device": "weightDevice[].leafWeight"}


def plan(res: LinuxResources) -> Plan:
    b = res.block_io
    if b is None:
        return []
    out: Plan = []
    if b.weight:
        out.append(("blkio.weight", str(b.weight)))
    if b.leaf_weight:
        out.append(("blkio.leaf_weight", str(b.leaf_weight)))
    for d in b.weight_device or ():
        if d.weight:
            out.append(("blkio.weight_device", f"{d.major}:{d.minor} {d.weight}"))
        if d.leaf_weight:
            out.append(("blkio.leaf_weight_device", f"{d.major}:{d.minor} {d.leaf_weight}"))
    for attr, name in THROTTLES:
        for d in getattr(b, attr) or ():
            out.append((name, f"{d.major}:{d.minor} {d.rate}"))  # rate 0 removes the limit
    return out


def resolve(dir: str, name: str) -> str:
    for candidate in ALIASES.get(name, (name,)):
        if fs.exists(dir, candidate):
            return candidate
    raise Unavailable(f"linux.resources.blockIO.{FIELDS.get(name, name)}: this host's blkio "
                      f"hierarchy has no {name} (no CFQ/BFQ I/O scheduler)")


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, [(resolve(dir, name), value) for name, value in plan(res)])
    return []


def parse_entries(text: str) -> tuple[BlkioEntry, ...]:
    """"8:0 Read 4096" lines; the per-file "Total N" line is skipped."""
    from pallet.cgroups.stats import BlkioEntry

    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append(BlkioEntry(major=int(major), minor=int(minor), op=parts[1], value=int(parts[2])))
    return tuple(out)


def stats(dir: str) -> BlkioStats:
    from pallet.cgroups.stats import BlkioStats

    # CFQ's files when present, else BFQ's, else the throttle layer's
    # (which counts every bio): runc's order.
    for prefix in ("blkio.", "blkio.bfq.", "blkio.throttle."):
        text = fs.read_optional(dir, f"{prefix}io_service_bytes_recursive")
        if text and parse_entries(text):
            return BlkioStats(
                io_service_bytes_recursive=parse_entries(text),
                io_serviced_recursive=parse_entries(fs.read_optional(dir, f"{prefix}io_serviced_recursive") or ""),
            )
    return BlkioStats()
