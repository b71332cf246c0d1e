"""openat2(2): open a path with the kernel resolving it inside a root.

    struct open_how {
        __u64 flags;
        __u64 mode;
        __u64 resolve;
    };

No policy here: callers choose flags and resolve bits. Errors are
`OSError(errno, "openat2 <path> resolve=<names>")`; EINTR/EAGAIN retried.
"""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost
import errno as _errno
import os

SYS_OPENAT2 = 437  # same number on every architecture (unified syscall table)

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20

RESOLVE_NAMES = {
    RESOLVE_NO_XDEV: "RESOLVE_NO_XDEV", RESOLVE_NO_MAGICLINKS: "RESOLVE_NO_MAGICLINKS",
    RESOLVE_NO_SYMLINKS: "RESOLVE_NO_SYMLINKS", RESOLVE_BENEATH: "RESOLVE_BENEATH",
    RESOLVE_IN_ROOT: "RESOLVE_IN_ROOT", RESOLVE_CACHED: "RESOLVE_CACHED",
}


class OpenHow(ctypes.Structure):
    """struct open_how (include/uapi/linux/openat2.h)."""

    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def _names(resolve: int) -> str:
    return "|".join(n for bit, n in RESOLVE_NAMES.items() if resolve & bit) or "0"


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """Return a new fd for `path` relative to `dirfd`, resolved per `resolve`."""
    how = OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    bpath = os.fsencode(path)
    while True:
        fd = _syscall(SYS_OPENAT2, ctypes.c_int(dirfd), ctypes.c_char_p(bpath),
                      ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how)))
        if fd >= 0:
            return fd
        err = ctypes.get_errno()
        if err in (_errno.EINTR, _errno.EAGAIN):
            continue
        raise OSError(err, f"openat2 resolve={_names(resolve)}", path)


def open_in_root(rootfd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: `..` and absolute symlinks stay inside rootfd."""
    return openat2(rootfd, path, flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)


def available() -> bool:
    try:
        fd = openat2(-100, "/", os.O_PATH)  # AT_FDCWD
    except OSError:
        return False
    os.close(fd)
    return True
