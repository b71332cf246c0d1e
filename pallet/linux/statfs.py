"""statfs(2): the filesystem type of a path, by its magic number.

Python's os.statvfs does not return f_type, so this is a ctypes call.
cgroups.detect() uses it: the magic of /sys/fs/cgroup tells cgroup2
(unified) from a tmpfs of v1 hierarchies, which /proc/filesystems can't.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os

# include/uapi/linux/magic.h
MAGIC: dict[str, int] = {
    "cgroup2": 0x63677270,   # CGROUP2_SUPER_MAGIC
    "cgroup": 0x27E0EB,      # CGROUP_SUPER_MAGIC
    "tmpfs": 0x01021994,     # TMPFS_MAGIC
    "sysfs": 0x62656572,     # SYSFS_MAGIC
    "proc": 0x9FA0,          # PROC_SUPER_MAGIC
    "overlayfs": 0x794C7630,
    "ext4": 0xEF53,
    "btrfs": 0x9123683E,
    "xfs": 0x58465342,
}
BY_MAGIC: dict[int, str] = {v: k for k, v in MAGIC.items()}


class Statfs(ctypes.Structure):
    """struct statfs (x86_64 / aarch64 generic layout)::

        struct statfs {
            __fsword_t f_type; __fsword_t f_bsize;
            fsblkcnt_t f_blocks, f_bfree, f_bavail;
            fsfilcnt_t f_files, f_ffree;
            fsid_t f_fsid;
            __fsword_t f_namelen, f_frsize, f_flags, f_spare[4];
        };
    """

    _fields_ = [
        ("f_type", ctypes.c_long), ("f_bsize", ctypes.c_long),
        ("f_blocks", ctypes.c_ulong), ("f_bfree", ctypes.c_ulong), ("f_bavail", ctypes.c_ulong),
        ("f_files", ctypes.c_ulong), ("f_ffree", ctypes.c_ulong),
        ("f_fsid", ctypes.c_int * 2),
        ("f_namelen", ctypes.c_long), ("f_frsize", ctypes.c_long), ("f_flags", ctypes.c_long),
        ("f_spare", ctypes.c_long * 4),
    ]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.statfs.argtypes = [ctypes.c_char_p, ctypes.POINTER(Statfs)]
_libc.statfs.restype = ctypes.c_int


def statfs(path: str) -> Statfs:
    buf = Statfs()
    while True:
        if _libc.statfs(os.fsencode(path), ctypes.byref(buf)) == 0:
            return buf
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            raise OSError(err, f"statfs: {os.strerror(err)}", path)


def fs_magic(path: str) -> int:
    """f_type of the filesystem holding `path` (unsigned)."""
    return statfs(path).f_type & 0xFFFFFFFF
