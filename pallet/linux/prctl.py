"""prctl(2) options used by the runtime (include/uapi/linux/prctl.h)."""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost

from pallet.linux._libc import call, libc

PR: dict[str, int] = {
    "PR_SET_PDEATHSIG": 1,
    "PR_GET_DUMPABLE": 3,
    "PR_SET_DUMPABLE": 4,
    "PR_SET_KEEPCAPS": 8,
    "PR_SET_NAME": 15,
    "PR_CAPBSET_READ": 23,
    "PR_CAPBSET_DROP": 24,
    "PR_SET_SECUREBITS": 28,
    "PR_SET_CHILD_SUBREAPER": 36,
    "PR_GET_CHILD_SUBREAPER": 37,
    "PR_SET_NO_NEW_PRIVS": 38,
    "PR_GET_NO_NEW_PRIVS": 39,
    "PR_CAP_AMBIENT": 47,
}
_NAMES = {v: k for k, v in PR.items()}
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return call(libc.prctl, option, arg2, arg3, arg4, arg5, what=f"prctl {_NAMES.get(option, option)} {arg2}")


def set_dumpable(on: bool) -> None:
    prctl(PR["PR_SET_DUMPABLE"], int(on))


def set_no_new_privs() -> None:
    prctl(PR["PR_SET_NO_NEW_PRIVS"], 1)


# Without ctypes, for the runtime's parent: see pallet.linux.subreaper.
from pallet.linux.subreaper import get_child_subreaper, set_child_subreaper  # noqa: E402,F401


def set_keepcaps(on: bool) -> None:
    prctl(PR["PR_SET_KEEPCAPS"], int(on))


def set_pdeathsig(sig: int) -> None:
    prctl(PR["PR_SET_PDEATHSIG"], sig)


def capbset_drop(cap: int) -> None:
    prctl(PR["PR_CAPBSET_DROP"], cap)


def ambient_raise(cap: int) -> None:
    prctl(PR["PR_CAP_AMBIENT"], PR_CAP_AMBIENT_RAISE, cap)


def ambient_clear_all() -> None:
    prctl(PR["PR_CAP_AMBIENT"], PR_CAP_AMBIENT_CLEAR_ALL)
