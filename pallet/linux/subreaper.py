"""prctl(2) PR_SET_CHILD_SUBREAPER / PR_GET_CHILD_SUBREAPER through `_ctypes` alone.

The runtime's parent makes no other foreign call on its way to the fork of
the container's init, and `import ctypes` costs ~3 ms over the C extension
it wraps (its types, struct, _endian). With this module the parent only
loads the extension; the init imports ctypes after the fork, while the
parent makes the cgroup. pallet.linux.prctl uses these two functions too.
"""

from __future__ import annotations

import _ctypes
import os

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


class _Int(_ctypes._SimpleCData):
    _type_ = "i"


class _ULong(_ctypes._SimpleCData):
    _type_ = "L"


class _Prctl(_ctypes.CFuncPtr):
    """int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);"""

    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _Int
    _argtypes_ = (_Int, _ULong, _ULong, _ULong, _ULong)


_prctl = _Prctl(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))


def _call(option: int, arg2: int, what: str) -> None:
    while _prctl(option, arg2, 0, 0, 0) == -1:
        err = _ctypes.get_errno()
        if err != 4:  # EINTR; the message as pallet.linux._libc.call words it (that module imports ctypes)
            reason = os.strerror(err)
            raise OSError(err, f"{what}: {reason[:1].lower()}{reason[1:]}")


def set_child_subreaper(on: bool = True) -> None:
    _call(PR_SET_CHILD_SUBREAPER, int(on), f"prctl PR_SET_CHILD_SUBREAPER {int(on)}")


def get_child_subreaper() -> bool:
    value = _Int(0)
    _call(PR_GET_CHILD_SUBREAPER, _ctypes.addressof(value), "prctl PR_GET_CHILD_SUBREAPER")
    return bool(value.value)
