"""The per-container monitor: a lean process that outlives the pallet command.

It runs the runtime's create step as a child subreaper, so the container's
init becomes its child; it holds the container's stdio, writes the json-file
log (Docker's format, rotated by size), serves attach clients on a unix
socket, reaps the exit status, writes it atomically to the exit file, then
execs the exit command (`pallet container cleanup ID`: --rm and restart
policies). It imports the standard library only and is exec'd as
`python -I -S monitor.py CONFIG.json` to keep its memory small; the same
`Monitor` class runs inside the CLI for a foreground `run`.

    pallet CLI                       monitor                      runtime
      | spawn(config, sync pipe) ---->|                             |
      |                               |-- posix_spawn create ------>| init waits
      |                               |<-- exit 0, pid file --------|
      |<--------- "ok PID\n" ---------|   (init reparented to us)
      |-- runtime start ---------------------------------------------> runs
      x exits                         |<== stdout/stderr pipes ====  container
                                      |<-- SIGCHLD: waitpid(init)
                                      |-- exits/<id> (tmp + rename)
                                      `-- exec exit command

Attach protocol (unix stream socket): the monitor sends frames
`stream:u8 length:u32be data`, stream 1 = stdout, 2 = stderr, 3 = exit code
(4 bytes, signed); the client's bytes go to the container's stdin when the
container was created with -i, and the client's EOF closes that stdin.
"""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import socket
import struct
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
FRAME = struct.Struct(">BI")
DRAIN_SECONDS = 1.0


def rfc3339nano(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


class JsonFileLog:
    """Docker's json-file: one JSON object per line, rotated at max_size into log.1..log.(max_file-1)."""

    def __init__(self, path: str, max_size: int, max_file: int):
        self.path, self.max_size, self.max_file = path, max_size, max(1, max_file)
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size
        self.partial = {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes, final: bool = False) -> None:
        buf = self.partial[stream] + data
        lines = buf.split(b"\n")
        rest = lines.pop()
        for line in lines:
            self._record(stream, line + b"\n")
        if final and rest:
            self._record(stream, rest)
            rest = b""
        # Docker cuts lines longer than 16 KiB into several records.
        while len(rest) >= 16384:
            self._record(stream, rest[:16384])
            rest = rest[16384:]
        self.partial[stream] = rest

    def flush(self) -> None:
        for stream in self.partial:
            self.write(stream, b"", final=True)

    def _record(self, stream: str, line: bytes) -> None:
        rec = json.dumps({"log": line.decode("utf-8", "replace"), "stream": stream,
                          "time": rfc3339nano(time.time_ns())}, separators=(",", ":")).encode() + b"\n"
        if self.max_size > 0 and self.size > 0 and self.size + len(rec) > self.max_size:
            self._rotate()
        os.write(self.fd, rec)
        self.size += len(rec)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else f"{self.path}.{i - 1}"
                if os.path.exists(src):
                    os.replace(src, f"{self.path}.{i}")
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        else:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self.fd = os.open(self.path, flags, 0o640)
        self.size = 0


def write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def exit_code_of(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def runtime_error(log_path: str) -> str:
    """The last error message of a runtime's --log (json lines), or ''."""
    try:
        with open(log_path, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") in ("error", "fatal"):
            return str(rec.get("msg", ""))
    return ""


def oom_killed(paths: list[str]) -> bool:
    for p in paths:
        try:
            with open(p) as f:
                for line in f:
                    key, _, val = line.partition(" ")
                    if key in ("oom_kill", "oom") and int(val) > 0 and key == "oom_kill":
                        return True
        except (OSError, ValueError):
            continue
    return False


class Monitor:
    """One container's stdio, log, attach clients and exit status."""

    def __init__(self, cfg: dict, *, local_out: tuple[int, int] | None = None, local_in: int | None = None):
        self.cfg = cfg
        self.sel = selectors.DefaultSelector()
        self.log = JsonFileLog(cfg["log_path"], cfg.get("log_max_size", 0), cfg.get("log_max_file", 1))
        self.local_out = local_out
        self.local_in = local_in
        self.clients: list[socket.socket] = []
        self.runtime_pid = 0
        self.container_pid = 0
        self.status: int | None = None
        self.error = ""
        self.stdin_w = -1
        self.open_streams = 0
        self.first_stderr = True
        self.tty_master = -1

    # -- setup -----------------------------------------------------------
    def _spawn_runtime(self) -> None:
        cfg = self.cfg
        fds = []
        if cfg.get("tty"):
            # With a terminal the runtime hands us the pty master over the console socket.
            in_fd = os.open(os.devnull, os.O_RDONLY)
            out_w = err_w = os.open(os.devnull, os.O_WRONLY)
        else:
            if cfg.get("interactive"):
                in_fd, self.stdin_w = os.pipe()
                os.set_blocking(self.stdin_w, False)
            else:
                in_fd = os.open(os.devnull, os.O_RDONLY)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            for fd, name in ((out_r, "stdout"), (err_r, "stderr")):
                os.set_blocking(fd, False)
                self.sel.register(fd, selectors.EVENT_READ, ("stream", name))
                self.open_streams += 1
            fds = [out_w, err_w]
        actions = [(os.POSIX_SPAWN_DUP2, in_fd, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        argv = cfg["argv"]
        self.runtime_pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        for fd in {in_fd, *fds, out_w, err_w}:
            os.close(fd)

    def _listen(self, path: str, kind: str) -> socket.socket:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(16)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, (kind, None))
        return s

    # -- events ----------------------------------------------------------
    def _emit(self, stream: str, data: bytes) -> None:
        if stream == "stderr" and self.first_stderr and self.cfg.get("hide_runtime_error_prefix"):
            self.first_stderr = False
            if data.startswith(self.cfg["hide_runtime_error_prefix"].encode()):
                return
        self.log.write(stream, data)
        if self.local_out:
            fd = self.local_out[0 if stream == "stdout" else 1]
            try:
                while data:
                    n = os.write(fd, data)
                    data = data[n:]
            except OSError:
                self.local_out = None
        if self.clients:
            frame = FRAME.pack(1 if stream == "stdout" else 2, len(data)) + data
            for c in list(self.clients):
                try:
                    c.sendall(frame)
                except OSError:
                    self._drop(c)

    def _drop(self, c: socket.socket) -> None:
        if c in self.clients:
            self.clients.remove(c)
        try:
            self.sel.unregister(c)
        except (KeyError, ValueError):
            pass
        c.close()

    def _on_stream(self, fd: int, name: str) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:  # EIO on a pty whose slave side closed
            if e.errno != errno.EIO:
                raise
            data = b""
        if data:
            self._emit(name, data)
        else:
            self.sel.unregister(fd)
            os.close(fd)
            self.open_streams -= 1

    def _on_client(self, c: socket.socket) -> None:
        try:
            data = c.recv(65536)
        except OSError:
            data = b""
        target = self.tty_master if self.tty_master >= 0 else self.stdin_w
        if data:
            if target >= 0:
                try:
                    os.write(target, data)
                except OSError:
                    pass
            return
        self._drop(c)
        if self.stdin_w >= 0 and self.cfg.get("stdin_once", True):
            os.close(self.stdin_w)
            self.stdin_w = -1

    def _on_local_in(self, fd: int) -> None:
        data = os.read(fd, 65536)
        target = self.tty_master if self.tty_master >= 0 else self.stdin_w
        if data and target >= 0:
            os.write(target, data)
        elif not data:
            self.sel.unregister(fd)
            if self.stdin_w >= 0:
                os.close(self.stdin_w)
                self.stdin_w = -1

    def _on_console(self, s: socket.socket) -> None:
        conn, _ = s.accept()
        conn.setblocking(True)
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        conn.close()
        self.sel.unregister(s)
        s.close()
        if fds:
            self.tty_master = fds[0]
            os.set_blocking(self.tty_master, False)
            self.sel.register(self.tty_master, selectors.EVENT_READ, ("stream", "stdout"))
            self.open_streams += 1

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.runtime_pid:
                self.runtime_pid = -1
                if self.cfg["mode"] == "run":
                    self.status = status
                elif status != 0:
                    self.error = runtime_error(self.cfg.get("runtime_log", "")) or f"runtime exited with status {exit_code_of(status)}"
                    self.status = status
                else:
                    self.container_pid = self._read_pid()
                    self._report(f"ok {self.container_pid}")
            elif pid == self.container_pid:
                self.status = status

    def _read_pid(self) -> int:
        try:
            with open(self.cfg["pid_file"]) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _report(self, line: str) -> None:
        fd = self.cfg.get("sync_fd", -1)
        if fd >= 0:
            try:
                os.write(fd, line.encode() + b"\n")
            except OSError:
                pass
            os.close(fd)
            self.cfg["sync_fd"] = -1

    # -- main loop -------------------------------------------------------
    def run(self) -> int:
        cfg = self.cfg
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
        forward = cfg.get("forward_signals", False)
        if forward:
            for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
                signal.signal(sig, self._forward)
        if cfg.get("attach_socket"):
            self._listen(cfg["attach_socket"], "listen")
        if cfg.get("console_socket"):
            self._listen(cfg["console_socket"], "console")
        if self.local_in is not None and cfg.get("interactive"):
            os.set_blocking(self.local_in, False)
            self.sel.register(self.local_in, selectors.EVENT_READ, ("local_in", None))
        self._spawn_runtime()
        deadline = None
        while True:
            if self.status is not None and (self.open_streams == 0 or (deadline and time.monotonic() > deadline)):
                break
            if self.status is not None and deadline is None:
                deadline = time.monotonic() + DRAIN_SECONDS
            timeout = 0.1 if self.status is not None else None
            for key, _ev in self.sel.select(timeout):
                kind, name = key.data
                if kind == "stream":
                    self._on_stream(key.fd, name)
                elif kind == "wake":
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                    self._reap()
                elif kind == "listen":
                    conn, _ = key.fileobj.accept()
                    conn.setblocking(True)
                    self.clients.append(conn)
                    self.sel.register(conn, selectors.EVENT_READ, ("client", None))
                elif kind == "client":
                    self._on_client(key.fileobj)
                elif kind == "console":
                    self._on_console(key.fileobj)
                elif kind == "local_in":
                    self._on_local_in(key.fd)
            self._reap()
        return self._finish()

    def _forward(self, signum, _frame) -> None:
        target = self.container_pid or self.runtime_pid
        if target > 0:
            try:
                os.kill(target, signum)
            except ProcessLookupError:
                pass

    def _finish(self) -> int:
        self.log.flush()
        if self.error:
            self._report("error " + self.error.replace("\n", " "))
            code = -1
        else:
            code = exit_code_of(self.status or 0)
        if self.container_pid == 0 and self.cfg["mode"] == "run":
            self.container_pid = self._read_pid()
        record = {
            "exit_code": code,
            "finished_at": time.time(),
            "oom_killed": oom_killed(self.cfg.get("oom_files", [])),
            "pid": self.container_pid,
            "error": self.error,
        }
        if self.cfg.get("exit_file"):
            write_atomic(self.cfg["exit_file"], json.dumps(record).encode())
        frame = FRAME.pack(3, 4) + struct.pack(">i", code)
        for c in list(self.clients):
            try:
                c.sendall(frame)
            except OSError:
                pass
            self._drop(c)
        for path in (self.cfg.get("attach_socket"), self.cfg.get("console_socket")):
            if path:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        self.exit_record = record
        return code


def _detach() -> None:
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE, signal.SIGTTOU, signal.SIGTTIN):
        signal.signal(sig, signal.SIG_IGN)


def _subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def serve(cfg: dict) -> int:
    """Body of a detached monitor: run the container, then exec the exit command."""
    _detach()
    if cfg.get("stacks_file"):
        import faulthandler

        faulthandler.register(signal.SIGUSR1, file=open(cfg["stacks_file"], "w"), all_threads=True)
    if cfg["mode"] == "create":
        _subreaper()
    mon = Monitor(cfg)
    try:
        mon.run()
    except BaseException as exc:  # the CLI must hear about a failure, never EOF
        mon._report(f"error monitor: {exc!r}".replace("\n", " "))
        raise
    cmd = cfg.get("exit_command")
    if cmd and not mon.error:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execv(cmd[0], cmd)
    return 0


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        cfg = json.load(f)
    return serve(cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
