"""mount(2), umount2(2), pivot_root(2) and the flag tables that name their bits."""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost

from pallet.linux._libc import call, flag_names, fsencode, libc, syscall

# include/uapi/linux/mount.h
MS: dict[str, int] = {
    "MS_RDONLY": 0x1,
    "MS_NOSUID": 0x2,
    "MS_NODEV": 0x4,
    "MS_NOEXEC": 0x8,
    "MS_SYNCHRONOUS": 0x10,
    "MS_REMOUNT": 0x20,
    "MS_MANDLOCK": 0x40,
    "MS_DIRSYNC": 0x80,
    "MS_NOSYMFOLLOW": 0x100,
    "MS_NOATIME": 0x400,
    "MS_NODIRATIME": 0x800,
    "MS_BIND": 0x1000,
    "MS_MOVE": 0x2000,
    "MS_REC": 0x4000,
    "MS_SILENT": 0x8000,
    "MS_UNBINDABLE": 0x20000,
    "MS_PRIVATE": 0x40000,
    "MS_SLAVE": 0x80000,
    "MS_SHARED": 0x100000,
    "MS_RELATIME": 0x200000,
    "MS_STRICTATIME": 0x1000000,
    "MS_LAZYTIME": 0x2000000,
}
globals().update(MS)

MNT: dict[str, int] = {"MNT_FORCE": 1, "MNT_DETACH": 2, "MNT_EXPIRE": 4, "UMOUNT_NOFOLLOW": 8}
globals().update(MNT)

libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    what = f"mount {source or ''} on {target}"
    if fstype:
        what += f" type {fstype}"
    what += f" flags={flag_names(flags, MS)}"
    if data:
        what += f" data={data}"
    call(libc.mount, fsencode(source), fsencode(target), fsencode(fstype), flags, fsencode(data), what=what)


def umount2(target: str, flags: int = 0) -> None:
    call(libc.umount2, fsencode(target), flags, what=f"umount {target} flags={flag_names(flags, MNT)}")


def detach_all(target: str) -> None:
    """Lazily unmount every mount stacked on `target` (none is fine). A policy-free loop over umount2: the
    engine's rootfs and /dev/shm teardowns, which may find a mount stacked twice or already gone."""
    import errno
    import os

    while os.path.ismount(target):
        try:
            umount2(target, MNT_DETACH)
        except OSError as exc:
            if exc.errno in (errno.EINVAL, errno.ENOENT):
                return
            raise


def pivot_root(new_root: str, put_old: str) -> None:
    syscall("pivot_root", fsencode(new_root), fsencode(put_old), what=f"pivot_root {new_root} {put_old}")
