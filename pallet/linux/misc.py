"""Small syscalls: sethostname, setdomainname, execveat, close_range."""

from __future__ import annotations

from pallet.linux import _ctypes_lite as ctypes  # ctypes without its import cost
import os

from pallet.linux._libc import call, fsencode, libc, syscall

AT_EMPTY_PATH = 0x1000
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_SETPERM = 5
CLOSE_RANGE_CLOEXEC = 1 << 2


def sethostname(name: str) -> None:
    b = name.encode()
    call(libc.sethostname, b, len(b), what=f"sethostname {name}")


def setdomainname(name: str) -> None:
    b = name.encode()
    call(libc.setdomainname, b, len(b), what=f"setdomainname {name}")


def _cstrings(items) -> ctypes.Array:
    arr = (ctypes.c_char_p * (len(items) + 1))()
    for i, s in enumerate(items):
        arr[i] = fsencode(s)
    arr[len(items)] = None
    return arr


def execveat(fd: int, path: str, argv: list[str], env: list[str], flags: int = 0) -> None:
    """Only returns by raising."""
    syscall("execveat", fd, fsencode(path), _cstrings(argv), _cstrings(env), flags, what=f"execveat fd={fd} {argv[0] if argv else ''}")


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    syscall("close_range", ctypes.c_uint(first), ctypes.c_uint(last), ctypes.c_uint(flags), what=f"close_range {first} {last}")


def cloexec_from(first: int) -> None:
    """Mark every fd >= first close-on-exec (CVE-2024-21626: no host fd reaches the container)."""
    try:
        close_range(first, 0xFFFFFFFF, CLOSE_RANGE_CLOEXEC)
    except OSError:  # kernels before 5.11
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass


def join_session_keyring(name: str) -> int:
    """keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a fresh session keyring; returns its serial."""
    return syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, fsencode(name), 0, 0, 0, what=f"keyctl join_session_keyring {name}")


def keyctl_setperm(serial: int, perm: int) -> None:
    syscall("keyctl", KEYCTL_SETPERM, serial, perm, 0, 0, what=f"keyctl setperm {serial} {perm:#x}")
