"""rdma: rdma.max per device, `mlx4_0 hca_handle=2 hca_object=2000` (same file on v1 and v2)."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

NAME = "rdma"
KEYS = (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object"))


def plan(res: LinuxResources) -> Plan:
    out: Plan = []
    for device, limits in res.rdma or ():
        values = dict(limits)
        parts = [f"{key}={values[field]}" for field, key in KEYS if values.get(field) is not None]
        if parts:
            out.append(("rdma.max", f"{device} {' '.join(parts)}"))
    return out


def apply(res: LinuxResources, dir: str) -> list[str]:
    fs.write_plan(dir, plan(res))
    return []
