"""`run -t` in the foreground without --console-socket: copy our stdio to and from the pty master."""

from __future__ import annotations

import os
import select


def proxy(master: int, pid: int) -> None:
    """Copy stdin -> master and master -> stdout until the container's side closes."""
    import termios
    import tty as _tty

    saved = None
    if os.isatty(0):
        saved = termios.tcgetattr(0)
        _tty.setraw(0)
        try:
            from pallet.linux.tty import get_winsize, set_winsize

            set_winsize(master, *get_winsize(0))
        except OSError:
            pass
    poll = select.poll()
    poll.register(master, select.POLLIN)
    stdin_open = True
    poll.register(0, select.POLLIN)
    try:
        while True:
            try:
                events = poll.poll()
            except InterruptedError:
                continue
            for fd, ev in events:
                if fd == master:
                    try:
                        data = os.read(master, 65536)
                    except OSError:  # EIO: every slave fd is closed
                        data = b""
                    if not data:
                        return
                    os.write(1, data)
                elif stdin_open:
                    data = os.read(0, 65536) if ev & select.POLLIN else b""
                    if not data:
                        poll.unregister(0)
                        stdin_open = False
                        os.write(master, b"\x04")
                    else:
                        os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        os.close(master)
