"""`pallet debug caps`: capability sets decoded into names, diffed against Docker's default.

Reads CapInh/CapPrm/CapEff/CapBnd/CapAmb of a PID (the seed's
`grep Cap /proc/$$/status`), or decodes a raw hex mask. The capability
numbers are pallet.linux.capability's table.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.debug import procfs
from pallet.errors import InvalidArgument, NotFound
from pallet.linux.capability import CAPS

BY_NUMBER: dict[int, str] = {n: name.removeprefix("CAP_") for name, n in CAPS.items()}

# Docker's default set (moby oci/caps/defaults.go, Docker 20.10 to 28): what a
# container gets without --cap-add/--cap-drop/--privileged.
DOCKER_DEFAULT: frozenset[str] = frozenset({
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "MKNOD", "NET_RAW", "SETGID", "SETUID",
    "SETFCAP", "SETPCAP", "NET_BIND_SERVICE", "SYS_CHROOT", "KILL", "AUDIT_WRITE",
})

SETS: tuple[tuple[str, str], ...] = (
    ("CapInh", "inheritable"), ("CapPrm", "permitted"), ("CapEff", "effective"),
    ("CapBnd", "bounding"), ("CapAmb", "ambient"),
)


def decode(mask: int) -> tuple[str, ...]:
    """Names of the bits set, lowest first; bits the table lacks as 'CAP_<n>'."""
    return tuple(BY_NUMBER.get(bit, f"CAP_{bit}") for bit in range(64) if mask >> bit & 1)


@dataclass(frozen=True)
class CapSet:
    field: str          # CapEff, or "mask" for a raw hex argument
    mask: int
    names: tuple[str, ...]
    added: tuple[str, ...]     # beyond Docker's default
    dropped: tuple[str, ...]   # of Docker's default, missing

    @property
    def full(self) -> bool:
        return all(self.mask >> n & 1 for n in BY_NUMBER)


@dataclass(frozen=True)
class CapReport:
    subject: str        # "pid 123 (sh)" or the mask as typed
    sets: tuple[CapSet, ...]


def capset(field: str, mask: int) -> CapSet:
    names = decode(mask)
    have = set(names)
    return CapSet(field, mask, names, tuple(n for n in names if n not in DOCKER_DEFAULT),
                  tuple(sorted(DOCKER_DEFAULT - have, key=lambda n: CAPS["CAP_" + n])))


def parse_mask(text: str) -> int:
    try:
        return int(text.strip().lower().removeprefix("0x"), 16)
    except ValueError:
        raise InvalidArgument(f"{text!r} is neither a PID nor a hex capability mask") from None


def of_argument(arg: str, proc: str = "/proc") -> CapReport:
    """A decimal that names a live process is a PID; anything else is a hex mask.

    A mask written like "00000000a80425fb" (as /proc prints it, 16 digits)
    is a mask even if all its digits are decimal.
    """
    if arg.isdigit() and len(arg) < 16 and procfs.exists(arg, proc):
        try:
            st = procfs.status(arg, proc)
        except OSError as exc:
            raise NotFound(f"process {arg}: {exc.strerror}") from None
        masks = {"CapInh": st.cap_inh, "CapPrm": st.cap_prm, "CapEff": st.cap_eff,
                 "CapBnd": st.cap_bnd, "CapAmb": st.cap_amb}
        return CapReport(f"pid {arg} ({st.name})", tuple(capset(f, masks[f]) for f, _ in SETS))
    return CapReport(arg, (capset("mask", parse_mask(arg)),))
