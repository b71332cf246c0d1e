"""Apply the five capability sets of process.capabilities.

Order matters (as runc): drop the bounding set while we still hold
CAP_SETPCAP, keep permitted caps across setuid with PR_SET_KEEPCAPS, then
capset effective/permitted/inheritable and raise the ambient ones.
"""

from __future__ import annotations

from pallet.linux import capability, prctl
from pallet.oci.runtime_spec import Capabilities


def drop_bounding(caps: Capabilities) -> None:
    keep = capability.mask(caps.bounding)
    for cap in range(capability.last_cap() + 1):
        if not keep & (1 << cap):
            prctl.capbset_drop(cap)


def apply(caps: Capabilities) -> None:
    last = (1 << (capability.last_cap() + 1)) - 1
    eff = capability.mask(caps.effective) & last
    prm = capability.mask(caps.permitted) & last
    inh = capability.mask(caps.inheritable) & last
    capability.capset(eff, prm, inh)
    # The kernel raises an ambient cap only if it is permitted and inheritable;
    # like runc, skip the others rather than fail.
    for name in caps.ambient:
        bit = capability.CAPS[name]
        if prm & inh & (1 << bit):
            prctl.ambient_raise(bit)
