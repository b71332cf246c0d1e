"""`run`: create + start, then (unless detached) wait, forward signals, and delete.

Returns the container process's exit status (128+n when killed by signal n),
as runc does. We become a child subreaper first, so the init (forked by
our stage 1 child, which exits) is reparented to us and we can wait for it.
"""

from __future__ import annotations

import os

from pallet.runtime import state as st
from pallet.runtime.create import CreateOptions, create
from pallet.runtime.start import start

# Signals `run` passes on to the container instead of dying of them.
FORWARDED = (1, 2, 3, 10, 12, 15, 28)  # HUP INT QUIT USR1 USR2 TERM WINCH


def run(opts: CreateOptions, *, detach: bool = False) -> int:
    from pallet.linux.subreaper import get_child_subreaper, set_child_subreaper

    was_subreaper = get_child_subreaper()
    try:
        return _run(opts, detach)
    finally:
        if not was_subreaper:  # a library caller gets its process back as it was
            set_child_subreaper(False)


def _run(opts: CreateOptions, detach: bool) -> int:
    console = None
    if not detach:
        opts = opts.replace(subreaper=True)
        if opts.console_socket is None and _needs_console(opts):
            import _socket

            console = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            opts = opts.replace(console_fd=console[1].fileno())
    try:
        cs = create(opts)
    finally:
        if console is not None:
            console[1].close()
    try:
        master = None
        if console is not None:
            from pallet.linux.tty import recv_fd

            master, _ = recv_fd(console[0])
            console[0].close()
        start(opts.root, opts.id, loaded=cs)
    except BaseException:
        from pallet.runtime.delete import destroy

        destroy(opts.root, cs)
        raise
    if detach:
        return 0
    from pallet.runtime.trace import mark

    mark("started")
    status = _wait(cs.pid, master)
    mark("container exited")
    from pallet.runtime.delete import destroy

    destroy(opts.root, cs, st.STOPPED)
    mark("destroyed")
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


def _needs_console(opts: CreateOptions) -> bool:
    from pallet.oci.runtime_spec import load

    spec = load(opts.bundle)
    return bool(spec.process and spec.process.terminal)


def _wait(pid: int, master: int | None) -> int:
    import _signal

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    saved = {sig: _signal.signal(sig, forward) for sig in FORWARDED}
    try:
        if master is not None:
            from pallet.runtime.tty_proxy import proxy

            proxy(master, pid)
        # Only our container's process: a library caller may have children of its own.
        while True:
            try:
                return os.waitpid(pid, 0)[1]
            except InterruptedError:
                continue
            except ChildProcessError:  # reaped elsewhere: the exit status is lost
                return 0
    finally:
        for sig, handler in saved.items():  # a library caller gets its own handlers back
            _signal.signal(sig, handler)
