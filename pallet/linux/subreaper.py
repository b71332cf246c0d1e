"""prctl(2) PR_SET_CHILD_SUBREAPER / PR_GET_CHILD_SUBREAPER, for the runtime's parent.

Apart from pallet.linux.prctl (which re-exports these two) because that
module sets up every prctl the init uses, while the parent needs only
this one on its way to the fork of the init.
"""

from __future__ import annotations

import os

from pallet.linux import _ctypes_lite as ctypes

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37


# int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5);
_prctl = ctypes.CDLL(None, use_errno=True).prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def _call(option: int, arg2: int, what: str) -> None:
    while _prctl(option, arg2, 0, 0, 0) == -1:
        err = ctypes.get_errno()
        if err != 4:  # EINTR; the message as pallet.linux._libc.call words it (that module imports ctypes)
            reason = os.strerror(err)
            raise OSError(err, f"{what}: {reason[:1].lower()}{reason[1:]}")


def set_child_subreaper(on: bool = True) -> None:
    _call(PR_SET_CHILD_SUBREAPER, int(on), f"prctl PR_SET_CHILD_SUBREAPER {int(on)}")


def get_child_subreaper() -> bool:
    value = ctypes.c_int(0)
    _call(PR_GET_CHILD_SUBREAPER, ctypes.addressof(value), "prctl PR_GET_CHILD_SUBREAPER")
    return bool(value.value)
