"""Syscall name -> number for each architecture the own compiler targets (x86_64, with i386 and x32).

The bulk comes from libseccomp's table (syscall_tables.py, generated);
NEWER adds what the kernel gained after libseccomp 2.5.4 (numbers from
arch/x86/entry/syscalls/syscall_{64,32}.tbl; all >= 451 are shared by the
three ABIs, x32 with the 0x40000000 bit, except those marked 64-bit only).
"""

from __future__ import annotations

from pallet.oci.seccomp import ARCHES
from pallet.runtime.seccomp import syscall_tables as _t

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

X32_BIT = 0x40000000

# name -> (number, 64-bit only)
NEWER: dict[str, tuple[int, bool]] = {
    "uretprobe": (335, True),        # 6.11
    "futex_wake": (454, False),      # 6.7
    "futex_wait": (455, False),
    "futex_requeue": (456, False),
    "statmount": (457, False),       # 6.8
    "listmount": (458, False),
    "lsm_get_self_attr": (459, False),
    "lsm_set_self_attr": (460, False),
    "lsm_list_modules": (461, False),
    "mseal": (462, False),           # 6.10
    "setxattrat": (463, False),      # 6.13
    "getxattrat": (464, False),
    "listxattrat": (465, False),
    "removexattrat": (466, False),
    "open_tree_attr": (467, False),  # 6.15
    "file_getattr": (468, False),    # 6.17
    "file_setattr": (469, False),
}


def _with_newer(base: dict[str, int], offset: int, wide: bool) -> dict[str, int]:
    out = dict(base)
    for name, (nr, only64) in NEWER.items():
        if name not in out and (wide or not only64):
            out[name] = nr + offset
    return out


# AUDIT_ARCH value -> {name: nr}. X32 shares AUDIT_ARCH_X86_64 with x86_64 and is
# told apart by the number's X32_BIT, so it is keyed by libseccomp's X32 token.
TABLES: dict[int, dict[str, int]] = {
    ARCHES["SCMP_ARCH_X86_64"]: _with_newer(_t.X86_64, 0, True),
    ARCHES["SCMP_ARCH_X86"]: _with_newer(_t.I386, 0, False),
    ARCHES["SCMP_ARCH_X32"]: _with_newer(_t.X32, X32_BIT, False),
}

# Names of other architectures newer than the generated table (so a profile naming them for
# its arch, like riscv's in the default profile, does not read as a typo).
OTHER_NEWER = frozenset({"riscv_hwprobe"})  # 6.4, riscv only

NATIVE = ("SCMP_ARCH_X86_64",)
ALL_NAMES: frozenset[str] = frozenset(_t.OTHER_ARCH_NAMES).union(OTHER_NEWER, *TABLES.values())


def target_arches(architectures: tuple[str, ...] | list[str]) -> list[str]:
    """The arch tokens a filter serves: the native one is always in (as libseccomp and runc do)."""
    return list(dict.fromkeys([*NATIVE, *architectures]))


def known_for(architectures) -> Callable[[str], bool]:
    """known(name): the name exists somewhere (else the compiler warns); it may still be absent on these arches."""
    return ALL_NAMES.__contains__
