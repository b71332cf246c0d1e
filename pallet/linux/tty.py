"""Pseudo-terminal ioctls and fd passing over unix sockets (SCM_RIGHTS)."""

from __future__ import annotations

import _socket
import array
import fcntl
import os
import struct

from pallet.linux._libc import strerror

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGWINSZ = 0x5413
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431


def open_pty(ptmx: str = "/dev/ptmx") -> tuple[int, str]:
    """(master fd, slave path) of a new pty from the devpts behind `ptmx`."""
    try:
        master = os.open(ptmx, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"open {ptmx}: {strerror(exc.errno)}") from None
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
    return master, f"/dev/pts/{n}"


def set_winsize(fd: int, rows: int, cols: int) -> None:
    """struct winsize { unsigned short ws_row, ws_col, ws_xpixel, ws_ypixel; };"""
    fcntl.ioctl(fd, TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def get_winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, TIOCGWINSZ, b"\0" * 8))
    return rows, cols


def set_controlling(fd: int) -> None:
    fcntl.ioctl(fd, TIOCSCTTY, 0)


def send_fd(sock_fd: int, fd: int, name: str) -> None:
    s = _socket.socket(fileno=os.dup(sock_fd))
    try:
        s.sendmsg([name.encode()], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, array.array("i", [fd]).tobytes())])
    finally:
        s.close()


def recv_fd(sock) -> tuple[int, str]:
    msg, anc, _flags, _addr = sock.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            return array.array("i", data[:4])[0], msg.decode(errors="replace")
    raise OSError(0, "console socket: no file descriptor received")
