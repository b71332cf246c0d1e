"""The CLI's own terminal while it relays a foreground `run -t` (the Monitor does the copying).

With -i the local terminal goes raw, so keys (^C, ^D, arrows) reach the container's pty, whose line
discipline handles them; the pty takes the local window size, again on every SIGWINCH. Everything is put
back on the way out, even on an error. Not imported by the detached monitor (it has no terminal).
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager


def _local_tty() -> int:
    """The fd of our controlling terminal among stdin/stdout, or -1."""
    for fd in (0, 1):
        if os.isatty(fd):
            return fd
    return -1


def copy_winsize(src: int, master: int) -> None:
    from pallet.linux.tty import get_winsize, set_winsize

    try:
        set_winsize(master, *get_winsize(src))
    except OSError:
        pass  # the container is gone, or src is no terminal: nothing to size


@contextmanager
def local_terminal(master: int, *, raw: bool):
    """Size `master` like our terminal (and keep it so); make stdin raw when `raw` and it is a terminal.
    `master` -1 (attach, which reaches the pty through the monitor): raw mode only."""
    src = _local_tty()
    saved = None
    old_winch = None
    if src >= 0 and master >= 0:
        copy_winsize(src, master)
        old_winch = signal.signal(signal.SIGWINCH, lambda *_: copy_winsize(src, master))
    if raw and os.isatty(0):
        import termios
        import tty

        saved = termios.tcgetattr(0)
        tty.setraw(0, termios.TCSANOW)  # not setraw's default TCSAFLUSH: keys typed ahead are kept
    try:
        yield
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(0, termios.TCSADRAIN, saved)
        if old_winch is not None:
            signal.signal(signal.SIGWINCH, old_winch)
