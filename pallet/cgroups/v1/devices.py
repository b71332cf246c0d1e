"""v1 devices: the default, then the exceptions, from `cgroups.devices.effective`."""

from __future__ import annotations

from pallet.cgroups import fs
from pallet.cgroups.devices import DeviceRules, effective, to_v1_line
from pallet.cgroups.fs import Plan
from pallet.oci.resources import LinuxResources

NAME = "devices"


def plan_rules(rules: DeviceRules) -> Plan:
    # "a" resets: the default and no exceptions; then each exception into
    # the file of its kind.
    out: Plan = [("devices.allow" if rules.default_allow else "devices.deny", "a")]
    for r in rules.exceptions:
        out.append(("devices.allow" if r.allow else "devices.deny", to_v1_line(r)))
    return out


def plan(res: LinuxResources, *, defaults: bool = True) -> Plan:
    if res.devices is None and not defaults:
        return []
    return plan_rules(effective(res.devices, defaults=defaults))


def apply(res: LinuxResources, dir: str, *, defaults: bool = True) -> list[str]:
    fs.write_plan(dir, plan(res, defaults=defaults))
    return []
