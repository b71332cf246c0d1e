"""`attach` / `start -a`: a client of the monitor's attach socket (protocol in monitor/monitor.py)."""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import sys
import time

from pallet.engine import containers
from pallet.errors import InvalidArgument, PalletError, Unavailable, WrongState

DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
_CTRL_SYMBOLS = {"@": 0, "[": 27, "\\": 28, "]": 29, "^": 30, "_": 31}


def parse_detach_keys(spec: str) -> bytes:
    """Docker's --detach-keys: comma-separated keys, each one character or ctrl-<a-z @ [ \\ ] ^ _>."""
    out = bytearray()
    for key in spec.split(","):
        low = key.lower()
        if len(key) == 1:
            out.append(ord(key))
        elif low.startswith("ctrl-") and len(low) == 6 and "a" <= low[5] <= "z":
            out.append(ord(low[5]) - ord("a") + 1)
        elif low.startswith("ctrl-") and len(low) == 6 and low[5] in _CTRL_SYMBOLS:
            out.append(_CTRL_SYMBOLS[low[5]])
        else:
            raise InvalidArgument(f"invalid detach keys {spec!r}: {key!r} is not a key (use a letter or ctrl-<x>)")
    return bytes(out)


def split_detach(buf: bytes, keys: bytes) -> tuple[bytes, bool, bytes]:
    """(bytes to send, whether `keys` were typed, a typed prefix of `keys` held back until the next read)."""
    at = buf.find(keys)
    if at >= 0:
        return buf[:at], True, b""
    for n in range(min(len(keys) - 1, len(buf)), 0, -1):
        if buf.endswith(keys[:n]):
            return buf[:-n], False, buf[-n:]
    return buf, False, b""


CONNECT_WAIT = 10.0  # `start -a`: how long a just-spawned monitor may take to listen


def _running(env, cid: str) -> bool:
    try:
        return containers.get(env, cid).status in ("running", "paused")
    except PalletError:
        return False


def _connect(env, cid: str, *, wait: bool = False) -> socket.socket | None:
    """The monitor's attach socket. `wait` (right after a start): its monitor may not listen yet, so retry while
    the container runs; None when it exited before we got there."""
    deadline = time.monotonic() + CONNECT_WAIT
    while True:
        # Through /proc/self/fd: the socket's path may be longer than sun_path's 108 bytes.
        dfd = os.open(env.run_dir(cid), os.O_PATH | os.O_DIRECTORY)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(f"/proc/self/fd/{dfd}/attach.sock")
            return s
        except OSError as exc:
            s.close()
            if wait and exc.errno in (errno.ENOENT, errno.ECONNREFUSED):
                if not _running(env, cid):
                    return None
                if time.monotonic() < deadline:
                    time.sleep(0.01)
                    continue
            raise Unavailable(f"container {cid[:12]}: its monitor does not answer ({exc.strerror}): not attachable") from None
        finally:
            os.close(dfd)


PROXIED_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")


def _proxy_signals(env, st):
    """--sig-proxy (Docker's default without -t): a signal sent to `pallet attach` goes to the container.
    Returns a function that puts the old handlers back."""
    import signal

    rt = env.runtime(st.config.runtime)

    def forward(signum, _frame):
        try:
            rt.kill(st.id, signal.Signals(signum).name)
        except Exception:  # noqa: BLE001 - the container may be gone already; the relay sees its exit
            pass

    old = {name: signal.signal(getattr(signal, name), forward) for name in PROXIED_SIGNALS}
    return lambda: [signal.signal(getattr(signal, name), h) for name, h in old.items()]


def attach(env, ref: str, *, stdin: bool = True, out=None, err=None, detach_keys: str = DEFAULT_DETACH_KEYS,
           sig_proxy: bool = True, log_offset: int | None = None) -> int:
    """Relay the container's output until it exits (its exit code), the user types the detach keys, or the
    monitor ends the session (0 for both: the container keeps running). `log_offset` (`start -a`, right after
    the start): wait for the monitor to listen, and when the container is gone before that, relay its log from
    there instead."""
    keys = parse_detach_keys(detach_keys) if detach_keys else b""
    st = containers.get(env, ref)
    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr.buffer
    if log_offset is not None:
        s = _connect(env, st.id, wait=True)
        if s is None:
            return follow_log(env, st.id, log_offset, out, err)
    else:
        if st.status != "running":
            state = "stopped" if st.status == "exited" else st.status
            raise WrongState(f"container {st.name} is {state}: cannot attach")
        s = _connect(env, st.id)
    buf = b""
    code = None
    watch = [s] + ([sys.stdin] if stdin and st.config.interactive else [])
    # the monitor's protocol: our first byte says whether our input follows (its end may close the container's
    # stdin) or none will (--no-stdin: leaving never closes it)
    try:
        s.sendall(b"i" if len(watch) > 1 else b"o")
    except OSError:
        pass  # the monitor is finishing: its exit frame or EOF follows
    from contextlib import nullcontext

    from pallet.engine.monitor.terminal import local_terminal

    # -t: the container's pty echoes and edits lines, so our terminal passes keys through raw
    term = local_terminal(-1, raw=True) if st.config.tty and len(watch) > 1 else nullcontext()
    sizing = nullcontext()  # -t: the monitor hands us the pty master; it follows our window size while attached
    master = -1
    held = b""  # the start of the detach keys, typed so far
    detached = False
    # with -t the keys (^C too) go to the container's pty raw; without, signals are forwarded instead
    unproxy = _proxy_signals(env, st) if sig_proxy and not st.config.tty else None
    term.__enter__()
    try:
        while code is None:
            ready, _, _ = select.select(watch, [], [])
            if sys.stdin in ready:
                data = os.read(sys.stdin.fileno(), 65536)
                if data:
                    if keys:
                        data, detached, held = split_detach(held + data, keys)
                    if data:
                        s.sendall(data)
                    if detached:
                        break
                else:
                    if held:
                        s.sendall(held)
                    s.shutdown(socket.SHUT_WR)
                    watch.remove(sys.stdin)
            if s in ready:
                data, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(4), socket.MSG_CMSG_CLOEXEC)
                for level, ctype, fdata in anc:
                    if level == socket.SOL_SOCKET and ctype == socket.SCM_RIGHTS and len(fdata) >= 4:
                        fd = int.from_bytes(fdata[:4], sys.byteorder)
                        if master >= 0:
                            os.close(fd)
                            continue
                        master = fd
                        sizing = local_terminal(master, raw=False)
                        sizing.__enter__()
                if not data:
                    break
                buf += data
                while len(buf) >= 5:
                    kind, n = struct.unpack(">BI", buf[:5])
                    if len(buf) < 5 + n:
                        break
                    payload, buf = buf[5:5 + n], buf[5 + n:]
                    if kind == 3:
                        code = struct.unpack(">i", payload)[0]
                    elif kind in (1, 2):
                        (out if kind == 1 else err).write(payload)
                        (out if kind == 1 else err).flush()
    finally:
        if unproxy is not None:
            unproxy()
        sizing.__exit__(None, None, None)
        if master >= 0:
            os.close(master)
        term.__exit__(None, None, None)
        s.close()
    if detached:
        sys.stderr.write("read escape sequence\n")  # as Docker, once our terminal is back to normal
        return 0
    if code is None:  # the monitor ended our session (input ended, stdin kept open) or is gone
        if _running(env, st.id):
            return 0
        done = __import__("pallet.engine.lifecycle", fromlist=["wait_exit"]).wait_exit(env, st.id, 5)
        code = done.row.exit_code if done is not None else 0
    return code


def follow_log(env, cid: str, offset: int, out=None, err=None) -> int:
    """Relay the container's json-file log from `offset` until it exits; return its exit code."""
    from pallet.engine import lifecycle, logs
    from pallet.metadata import containers as table

    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr.buffer

    def running() -> bool:
        row = table.get(env.db, cid)
        if row is None:
            return False
        containers.sync_one(env, cid, row)
        row = table.get(env.db, cid)
        return row is not None and row.status in ("running", "paused")

    for e in logs.follow(env.log_path(cid), running, start_offset=offset):
        stream = err if e.stream == "stderr" else out
        stream.write(e.text.encode())
        stream.flush()
    done = lifecycle.wait_exit(env, cid, 10)
    if done is not None:
        return done.row.exit_code
    rec = containers.read_exit(env, cid)
    return int(rec.get("exit_code", 0)) if rec else 0
