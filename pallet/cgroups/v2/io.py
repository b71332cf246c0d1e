"""v2 io: io.weight / io.bfq.weight, io.max throttles; io.stat per device.

blkio weights are 10..1000 and io.weight is 1..10000: runc converts
with 1 + (w-10)*9999/990. With BFQ, io.bfq.weight takes the v1 value
as is.
"""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

# Stats types are imported where used: `create` applies limits and reads no stats.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cgroups.stats import BlkioEntry, BlkioStats

NAME = "io"

# OCI throttle field -> io.max key
IO_MAX_KEYS: tuple[tuple[str, str], ...] = (
    ("throttle_read_bps", "rbps"), ("throttle_write_bps", "wbps"),
    ("throttle_read_iops", "riops"), ("throttle_write_iops", "wiops"),
)


def blkio_to_io_weight(weight: int) -> int:
    return 0 if weight == 0 else 1 + (weight - 10) * 9999 // 990


def plan(res: LinuxResources, *, bfq: bool = False) -> Plan:
    b = res.block_io
    if b is None:
        return []
    out: Plan = []
    conv = (lambda w: w) if bfq else blkio_to_io_weight
    name = "io.bfq.weight" if bfq else "io.weight"
    if b.weight:
        out.append((name, str(conv(b.weight))))
    for d in b.weight_device or ():
        if d.weight:
            out.append((name, f"{d.major}:{d.minor} {conv(d.weight)}"))
    for attr, key in IO_MAX_KEYS:
        for d in getattr(b, attr) or ():
            out.append(("io.max", f"{d.major}:{d.minor} {key}={d.rate or 'max'}"))
    return out


def apply(res: LinuxResources, dir: str) -> list[str]:
    warnings = []
    if res.block_io and res.block_io.leaf_weight:
        warnings.append("linux.resources.blockIO.leafWeight is not supported on cgroup v2 and is ignored")
    fs.write_plan(dir, plan(res, bfq=fs.exists(dir, "io.bfq.weight")))
    return warnings


def parse_io_stat(text: str) -> BlkioStats:
    from pallet.cgroups.stats import BlkioEntry, BlkioStats

    service, serviced = [], []
    for line in text.splitlines():
        dev, *pairs = line.split()
        major, minor = (int(x) for x in dev.split(":"))
        kv = dict(p.split("=", 1) for p in pairs if "=" in p)
        for key, op in (("rbytes", "Read"), ("wbytes", "Write")):
            service.append(BlkioEntry(major=major, minor=minor, op=op, value=int(kv.get(key, 0))))
        for key, op in (("rios", "Read"), ("wios", "Write")):
            serviced.append(BlkioEntry(major=major, minor=minor, op=op, value=int(kv.get(key, 0))))
    return BlkioStats(io_service_bytes_recursive=tuple(service), io_serviced_recursive=tuple(serviced))


def stats(dir: str) -> BlkioStats:
    return parse_io_stat(fs.read_optional(dir, "io.stat") or "")
