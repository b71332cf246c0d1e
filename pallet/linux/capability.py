"""capget(2)/capset(2) and the capability table (include/uapi/linux/capability.h)."""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost

from pallet.linux._libc import call, libc
from pallet.linux.capnames import CAPS  # noqa: F401  (re-exported)

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


class CapHeader(ctypes.Structure):
    """struct __user_cap_header_struct { __u32 version; int pid; };"""

    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class CapData(ctypes.Structure):
    """struct __user_cap_data_struct { __u32 effective, permitted, inheritable; };  (two of them in v3)"""

    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_last_cap: int | None = None


def last_cap() -> int:
    """The kernel's highest capability: a host constant, read once per process (a forked child
    inherits it: pallet's container init reads no /proc file for it)."""
    global _last_cap
    if _last_cap is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                _last_cap = int(f.read())
        except OSError:
            return max(CAPS.values())
    return _last_cap


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) as 64-bit masks."""
    hdr = CapHeader(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (CapData * 2)()
    call(libc.capget, ctypes.byref(hdr), data, what=f"capget pid={pid}")
    return tuple(data[0].__getattribute__(k) | (data[1].__getattribute__(k) << 32) for k in ("effective", "permitted", "inheritable"))  # type: ignore[return-value]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    hdr = CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (CapData * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    call(libc.capset, ctypes.byref(hdr), data, what=f"capset eff={effective:#x} prm={permitted:#x} inh={inheritable:#x}")


def mask(names) -> int:
    """Bit mask of capability names; unknown names raise ValueError naming the cap."""
    m = 0
    for name in names:
        if name not in CAPS:
            raise ValueError(f"unknown capability {name!r}")
        m |= 1 << CAPS[name]
    return m
