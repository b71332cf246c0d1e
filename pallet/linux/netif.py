"""Interface flags through SIOCGIFFLAGS/SIOCSIFFLAGS (enough to bring `lo` up in a new net ns)."""

from __future__ import annotations

import _socket
import fcntl
import struct

from pallet.linux._libc import strerror

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


def set_up(name: str = "lo") -> None:
    """struct ifreq { char ifr_name[16]; short ifr_flags; ... } (padded to 40 bytes)."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sh22x", name.encode(), 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, req))[1]
        try:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, struct.pack("16sh22x", name.encode(), flags | IFF_UP))
        except OSError as exc:
            raise OSError(exc.errno, f"set {name} up: {strerror(exc.errno)}") from None
    finally:
        s.close()
