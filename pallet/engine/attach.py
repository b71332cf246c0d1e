"""`attach` / `start -a`: a client of the monitor's attach socket (protocol in monitor/monitor.py)."""

from __future__ import annotations

import os
import select
import socket
import struct
import sys

from pallet.engine import containers
from pallet.errors import Unavailable, WrongState


def _connect(env, cid: str) -> socket.socket:
    # Through /proc/self/fd: the socket's path may be longer than sun_path's 108 bytes.
    dfd = os.open(env.run_dir(cid), os.O_PATH | os.O_DIRECTORY)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(f"/proc/self/fd/{dfd}/attach.sock")
        except OSError as exc:
            s.close()
            raise Unavailable(f"container {cid[:12]}: its monitor does not answer ({exc.strerror}): not attachable") from None
        return s
    finally:
        os.close(dfd)


def attach(env, ref: str, *, stdin: bool = True, out=None, err=None) -> int:
    """Relay the container's output until it exits; return its exit code."""
    st = containers.get(env, ref)
    if st.status != "running":
        raise WrongState(f"container {st.name} is {'stopped' if st.status == 'exited' else st.status}: cannot attach")
    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr.buffer
    s = _connect(env, st.id)
    buf = b""
    code = None
    watch = [s] + ([sys.stdin] if stdin and st.config.interactive else [])
    from contextlib import nullcontext

    from pallet.engine.monitor.terminal import local_terminal

    # -t: the container's pty echoes and edits lines, so our terminal passes keys through raw
    term = local_terminal(-1, raw=True) if st.config.tty and len(watch) > 1 else nullcontext()
    term.__enter__()
    try:
        while code is None:
            ready, _, _ = select.select(watch, [], [])
            if sys.stdin in ready:
                data = os.read(sys.stdin.fileno(), 65536)
                if data:
                    s.sendall(data)
                else:
                    s.shutdown(socket.SHUT_WR)
                    watch.remove(sys.stdin)
            if s in ready:
                data = s.recv(65536)
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
                    else:
                        (out if kind == 1 else err).write(payload)
                        (out if kind == 1 else err).flush()
    finally:
        term.__exit__(None, None, None)
        s.close()
    if code is None:
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
