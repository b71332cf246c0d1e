"""unshare(2) and setns(2), with the CLONE_NEW* table."""

from __future__ import annotations

from pallet.linux._libc import call, flag_names, libc

from pallet.linux.clone import CLONE, NAMESPACES  # noqa: E402,F401  (the tables live without ctypes)

globals().update(CLONE)


def unshare(flags: int) -> None:
    call(libc.unshare, flags, what=f"unshare {flag_names(flags, CLONE)}")


def setns(fd: int, nstype: int = 0, path: str = "") -> None:
    call(libc.setns, fd, nstype, what=f"setns {path or fd} {flag_names(nstype, CLONE)}")
