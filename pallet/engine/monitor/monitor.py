"""The per-container monitor: a lean process that outlives the pallet command.

It runs the runtime's create step as a child subreaper, so the container's
init becomes its child; it holds the container's stdio, writes the json-file
log (Docker's format, rotated by size), serves attach clients on a unix
socket, reaps the exit status, writes it atomically to the exit file, then
execs the exit command (`pallet container cleanup ID`: --rm and restart
policies). The same `Monitor` class runs inside the CLI for a foreground `run`.

Memory is the point (conmon's role, measured against containerd-shim's
3.4 MiB PSS): it is exec'd as `python -I -S monitor.py CONFIG` and imports
only C modules that are builtin or tiny — `_signal` not `signal` (enum),
`select.epoll` not `selectors`, `_socket` not `socket`, `marshal` for its
config and `_json.encode_basestring` for log lines instead of `json` (which
pulls in `re`). The subreaper bit is set by the CLI before the exec
(PR_SET_CHILD_SUBREAPER survives execve), so no ctypes here either.

    pallet CLI                       monitor                      runtime
      | fork, subreaper, exec ------->|                             |
      |                               |-- posix_spawn create ------>| init waits
      |                               |<-- exit 0, pid file --------|
      |<--------- "ok PID\\n" ---------|   (init reparented to us)
      |-- runtime start ---------------------------------------------> runs
      x exits                         |<== stdout/stderr pipes ====  container
                                      |<-- SIGCHLD: waitpid(init)
                                      |-- exits/<id> (tmp + rename)
                                      `-- exec exit command

Attach protocol (unix stream socket `attach.sock` in the monitor's cwd, the
container's run dir): the monitor sends frames `stream:u8 length:u32be data`,
stream 1 = stdout, 2 = stderr, 3 = exit code (4 bytes, signed), 4 = the
container's pty master, passed with SCM_RIGHTS in an empty frame sent first to
each client of a -t container (so the client sizes the pty like its terminal
and follows SIGWINCH itself, as Docker resizes on attach; the monitor needs no
ioctl). A client's first byte says what it sends: b"i" its input (the rest of its bytes go to the container's
stdin when it was created with -i), b"o" nothing (`attach --no-stdin`). An input client's EOF closes that stdin
when the container is stdin_once (Docker's StdinOnce: `create -i`, a foreground `run -i`) and no -t; the client
then still gets the output and the exit code. Otherwise (`run -d -i`, -t, a b"o" client, one that left before
saying) the EOF ends that client's session and stdin stays open for the next attach, as Docker.

Detach (a foreground `run -it`): `detach_filter` sees the local terminal's input and takes the detach keys out;
when they were typed, run() returns None without finishing, the container running and every fd kept, so the
caller can hand the container to an exec'd monitor in mode "adopt".

hold_output (`start -a`): the container's output stays in its pipes or pty (the kernel buffers it; the container
blocks when they fill) until the first attach client arrives, so the one who started it sees it all; released
anyway when the container exits or after HOLD_SECONDS, so a client that never comes blocks nothing for long.
"""

import _signal
import _socket
import _struct
import errno
import marshal
import os
import select
import sys
import time

try:
    from _json import encode_basestring as _quote
except ImportError:  # pragma: no cover - CPython always has _json
    from json.encoder import py_encode_basestring as _quote

DRAIN_SECONDS = 1.0
HOLD_SECONDS = 10.0
EPOLLIN = select.EPOLLIN


def frame(stream: int, data: bytes) -> bytes:
    return _struct.pack(">BI", stream, len(data)) + data


def rfc3339nano(ns: int) -> str:
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%09dZ" % frac


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
            while len(line) >= 16384:  # Docker cuts lines longer than 16 KiB into several records
                self._record(stream, line[:16384])
                line = line[16384:]
            self._record(stream, line + b"\n")
        if final and rest:
            self._record(stream, rest)
            rest = b""
        while len(rest) >= 16384:
            self._record(stream, rest[:16384])
            rest = rest[16384:]
        self.partial[stream] = rest

    def flush(self) -> None:
        for stream in self.partial:
            self.write(stream, b"", final=True)

    def _record(self, stream: str, line: bytes) -> None:
        rec = ('{"log":%s,"stream":"%s","time":"%s"}\n' % (
            _quote(line.decode("utf-8", "replace")), stream, rfc3339nano(time.time_ns()))).encode()
        if self.max_size > 0 and self.size > 0 and self.size + len(rec) > self.max_size:
            self._rotate()
        os.write(self.fd, rec)
        self.size += len(rec)

    def _rotate(self) -> None:
        os.close(self.fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        if self.max_file > 1:
            for i in range(self.max_file - 1, 0, -1):
                src = self.path if i == 1 else "%s.%d" % (self.path, i - 1)
                if os.path.exists(src):
                    os.replace(src, "%s.%d" % (self.path, i))
        else:
            flags |= os.O_TRUNC
        self.fd = os.open(self.path, flags, 0o640)
        self.size = 0


class NoLog:
    """log-driver none: the output goes to attach clients (and a foreground terminal) only."""

    fd = -1

    def write(self, stream: str, data: bytes, final: bool = False) -> None:
        pass

    def flush(self) -> None:
        pass


def write_atomic(path: str, data: bytes) -> None:
    """Temp file and rename: a reader never sees half a record. No fsync: an exit record is about a process,
    which does not outlive the host either (after a crash the next command folds the container as vanished),
    and two fsyncs cost 1-8 ms of every `run --rm` where the runroot is on disk (as runc's pid file, not synced)."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def exit_record(code: int, oom: bool, pid: int, error: str) -> bytes:
    return ('{"exit_code":%d,"finished_at":%r,"oom_killed":%s,"pid":%d,"error":%s}' % (
        code, time.time(), "true" if oom else "false", pid, _quote(error))).encode()


def exit_code_of(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def runtime_error(log_path: str) -> str:
    """The last error message of a runtime's --log (json lines), or ''. Error path only: json is imported here."""
    try:
        with open(log_path, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    import json

    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("level") in ("error", "fatal"):
            return str(rec.get("msg", ""))
    return ""


def oom_killed(paths: list) -> bool:
    """v1 memory.oom_control or v2 memory.events: an `oom_kill N` line with N > 0."""
    for p in paths:
        try:
            with open(p) as f:
                for line in f:
                    key, _, val = line.partition(" ")
                    if key == "oom_kill" and int(val) > 0:
                        return True
        except (OSError, ValueError):
            continue
    return False


def unix_listener(path: str):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    s.setblocking(False)
    return s


def accept(listener):
    fd, _addr = listener._accept()
    c = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
    c.setblocking(True)
    return c


def recv_fd(conn) -> int:
    """One fd passed with SCM_RIGHTS (the runtime's pty master on the console socket), or -1."""
    _msg, anc, _flags, _addr = conn.recvmsg(4096, _socket.CMSG_SPACE(4))
    for level, kind, data in anc:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder)
    return -1


class Monitor:
    """One container's stdio, log, attach clients and exit status."""

    def __init__(self, cfg: dict, *, local_out=None, local_in=None, on_created=None, detach_filter=None):
        self.cfg = cfg
        self.detach_filter = detach_filter  # local input -> (bytes for the container, whether to detach)
        self.detached = False
        self.on_created = on_created  # in-process use: start the container once created; returns an error or ""
        self.ep = select.epoll()
        self.handlers = {}  # fd -> (kind, name, object)
        self.log = (JsonFileLog(cfg["log_path"], cfg.get("log_max_size", 0), cfg.get("log_max_file", 1))
                    if cfg["log_path"] else NoLog())  # log-driver none
        self.local_out = local_out
        self.local_in = local_in
        self.clients = {}
        self.inputs = {}  # client fd -> its first byte said it sends input (b"i"); absent until it said
        self.runtime_pid = 0
        self.container_pid = 0
        self.status = None
        self.error = ""
        self.stdin_w = -1
        self.open_streams = 0
        self.first_stderr = True
        self.tty_master = -1
        self.exit_record = None
        self.held = []  # (fd, name) of streams not read until the first attach client: see hold_output
        self.hold_until = time.monotonic() + HOLD_SECONDS if cfg.get("hold_output") else 0.0
        # The CLI's container lock (its open file, passed down): held while the runtime's create runs, so `rm -f`
        # and `system check --repair` wait for a create in flight even when the CLI is killed meanwhile (the
        # in-process creator holds it the same way). Not inherited by the runtime: a never-started init must not
        # keep it.
        self.lock_fd = cfg.get("lock_fd", -1)
        if self.lock_fd >= 0:
            os.set_inheritable(self.lock_fd, False)

    def _watch(self, fd: int, kind: str, name: str = "", obj=None) -> None:
        self.handlers[fd] = (kind, name, obj)
        self.ep.register(fd, EPOLLIN)

    def _watch_stream(self, fd: int, name: str) -> None:
        self.open_streams += 1
        if self.hold_until:
            self.held.append((fd, name))
        else:
            self._watch(fd, "stream", name)

    def _release_hold(self) -> None:
        self.hold_until = 0.0
        for fd, name in self.held:
            self._watch(fd, "stream", name)
        self.held = []

    def _unwatch(self, fd: int) -> None:
        self.handlers.pop(fd, None)
        try:
            self.ep.unregister(fd)
        except (OSError, ValueError):
            pass

    # -- setup -----------------------------------------------------------
    def _spawn_runtime(self) -> None:
        cfg = self.cfg
        if cfg.get("tty"):  # the runtime hands us the pty master over the console socket
            in_fd = os.open(os.devnull, os.O_RDONLY)
            out_w = err_w = os.open(os.devnull, os.O_WRONLY)
        else:
            if cfg.get("interactive"):
                in_fd, self.stdin_w = os.pipe()
            else:
                in_fd = os.open(os.devnull, os.O_RDONLY)
            out_r, out_w = os.pipe()
            err_r, err_w = os.pipe()
            for fd, name in ((out_r, "stdout"), (err_r, "stderr")):
                os.set_blocking(fd, False)
                self._watch_stream(fd, name)
        actions = [(os.POSIX_SPAWN_DUP2, in_fd, 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
        argv = cfg["argv"]
        self.runtime_pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        for fd in {in_fd, out_w, err_w}:
            os.close(fd)

    def _adopt(self) -> None:
        """The container was created by our pre-exec self (in-process runtime): take over its pipes and pid."""
        cfg = self.cfg
        fds = cfg["fds"]
        for name in ("stdout", "stderr"):
            fd = fds.get(name, -1)
            if fd >= 0:
                os.set_blocking(fd, False)
                self._watch_stream(fd, name)
        self.stdin_w = fds.get("stdin", -1)
        master = fds.get("tty", -1)
        if master >= 0:  # -t: one stream, the pty master, carries the container's output both ways
            self.tty_master = master
            os.set_blocking(master, False)
            self._watch_stream(master, "stdout")
        self.runtime_pid = -1
        self._created(cfg["container_pid"])

    def _created(self, pid: int) -> None:
        """The container exists (its init waits for start): tell the CLI; in process, start it now."""
        self.container_pid = pid
        self._report("ok %d" % pid)
        if self.on_created is not None:
            err = self.on_created(pid)
            if err:
                self.error = err
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass

    # -- events ----------------------------------------------------------
    def _emit(self, stream: str, data: bytes) -> None:
        hide = self.cfg.get("hide_runtime_error_prefix")
        if stream == "stderr" and self.first_stderr and hide:
            self.first_stderr = False
            if self.container_pid == 0 and data.startswith(hide.encode()):
                return
        self.log.write(stream, data)
        if self.local_out:
            fd = self.local_out[0 if stream == "stdout" else 1]
            try:
                while data:
                    data = data[os.write(fd, data):]
            except OSError:
                self.local_out = None
        if self.clients:
            fr = frame(1 if stream == "stdout" else 2, data)
            for fd, c in list(self.clients.items()):
                try:
                    c.sendall(fr)
                except OSError:
                    self._drop(fd)

    def _drop(self, fd: int) -> None:
        c = self.clients.pop(fd, None)
        self.inputs.pop(fd, None)
        self._unwatch(fd)
        if c is not None:
            c.close()

    def _on_stream(self, fd: int, name: str) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:  # EIO on a pty whose other side closed
            if e.errno != errno.EIO:
                raise
            data = b""
        if data:
            self._emit(name, data)
        else:
            self._unwatch(fd)
            os.close(fd)
            self.open_streams -= 1
            if fd == self.tty_master:
                self.tty_master = -1

    def _to_stdin(self, data: bytes) -> None:
        target = self.tty_master if self.tty_master >= 0 else self.stdin_w
        if target >= 0:
            try:
                os.write(target, data)
            except OSError:
                pass

    def _close_stdin(self) -> None:
        if self.stdin_w >= 0:
            os.close(self.stdin_w)
            self.stdin_w = -1

    def _on_client(self, fd: int) -> None:
        c = self.clients.get(fd)
        try:
            data = c.recv(65536) if c is not None else b""
        except OSError:
            data = b""
        if data and fd not in self.inputs:
            self.inputs[fd] = data[:1] == b"i"
            data = data[1:]
            if not data:
                return
        if data:
            if self.inputs.get(fd):
                self._to_stdin(data)
            return
        if self.inputs.get(fd) and self.cfg.get("stdin_once") and self.tty_master < 0:
            self._close_stdin()  # the container sees its input end; this client still gets the output
            self._unwatch(fd)
        else:
            self._drop(fd)  # the session ends; stdin stays open for the next attach

    def _on_local_in(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            if self.detach_filter is not None:
                data, self.detached = self.detach_filter(data)
            if data:
                self._to_stdin(data)
        else:
            self._unwatch(fd)
            if self.tty_master >= 0:  # a pty has no EOF of its own: end-of-file is the terminal's ^D
                self._to_stdin(b"\x04")
            self._close_stdin()

    def _on_console(self, fd: int, listener) -> None:
        conn = accept(listener)
        master = recv_fd(conn)
        conn.close()
        self._unwatch(fd)
        listener.close()
        if master >= 0:
            self.tty_master = master
            os.set_blocking(master, False)
            self._watch_stream(master, "stdout")

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
                self._release_lock()
                if self.cfg["mode"] == "run":
                    self.status = status
                elif status != 0:
                    self.error = runtime_error(self.cfg.get("runtime_log", "")) or "runtime exited with status %d" % exit_code_of(status)
                    self.status = status
                else:
                    self._created(self._read_pid())
            elif pid == self.container_pid:
                self.status = status

    def _release_lock(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1

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
        old_wakeup = _signal.set_wakeup_fd(wake_w)
        old_chld = _signal.signal(_signal.SIGCHLD, _noop)
        self._watch(wake_r, "wake")
        old = {}
        if cfg.get("forward_signals"):
            for sig in (_signal.SIGINT, _signal.SIGTERM, _signal.SIGHUP, _signal.SIGQUIT):
                old[sig] = _signal.signal(sig, self._forward)
        listeners = []
        if cfg.get("attach_socket"):
            s = unix_listener(cfg["attach_socket"])
            listeners.append(s)
            self._watch(s.fileno(), "listen", "", s)
        if cfg.get("console_socket"):
            # sun_path holds 107 bytes and a run dir's path can be longer: bind by name in our cwd (the run
            # dir) and give the runtime (which chdirs to the bundle) a short absolute path to the same file
            name = os.path.basename(cfg["console_socket"])
            s = unix_listener(name)
            short = "/proc/%d/cwd/%s" % (os.getpid(), name)
            cfg["argv"] = [short if a == cfg["console_socket"] else a for a in cfg["argv"]]
            listeners.append(s)
            self._watch(s.fileno(), "console", "", s)
        if self.local_in is not None and cfg.get("interactive"):
            os.set_blocking(self.local_in, False)
            self._watch(self.local_in, "local_in")
        try:
            if cfg["mode"] == "adopt":
                self._adopt()
            else:
                self._spawn_runtime()
            self._loop(wake_r)
        finally:
            _signal.set_wakeup_fd(old_wakeup)
            _signal.signal(_signal.SIGCHLD, old_chld)
            for sig, h in old.items():
                _signal.signal(sig, h)
            if self.local_in is not None and cfg.get("interactive"):
                os.set_blocking(self.local_in, True)
            os.close(wake_r)
            os.close(wake_w)
        if self.detached:
            return None
        return self._finish(listeners)

    def _loop(self, wake_r: int) -> None:
        deadline = None
        while True:
            if self.hold_until and (self.status is not None or time.monotonic() > self.hold_until):
                self._release_hold()
            if self.status is not None:
                if self.open_streams == 0 or (deadline is not None and time.monotonic() > deadline):
                    return
                if deadline is None:
                    deadline = time.monotonic() + DRAIN_SECONDS
            timeout = 0.1 if self.status is not None else -1
            if self.hold_until:
                timeout = max(0.0, self.hold_until - time.monotonic())
            try:
                events = self.ep.poll(timeout)
            except InterruptedError:
                events = []
            for fd, _ev in events:
                h = self.handlers.get(fd)
                if h is None:
                    continue
                kind, name, obj = h
                if kind == "stream":
                    self._on_stream(fd, name)
                elif kind == "wake":
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif kind == "listen":
                    c = accept(obj)
                    self.clients[c.fileno()] = c
                    self._watch(c.fileno(), "client")
                    if self.tty_master >= 0:
                        self._send_master(c)
                    if self.hold_until:
                        self._release_hold()
                elif kind == "client":
                    self._on_client(fd)
                elif kind == "console":
                    self._on_console(fd, obj)
                elif kind == "local_in":
                    self._on_local_in(fd)
            self._reap()
            if self.detached:
                if self.status is None:
                    self.ep.close()
                    return
                self.detached = False  # the container exited meanwhile: finish as usual

    def _send_master(self, c) -> None:
        fd_bytes = self.tty_master.to_bytes(4, sys.byteorder)
        try:
            c.sendmsg([frame(4, b"")], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fd_bytes)])
        except OSError:
            self._drop(c.fileno())

    def _forward(self, signum, _frame) -> None:
        target = self.container_pid or self.runtime_pid
        if target > 0:
            try:
                os.kill(target, signum)
            except ProcessLookupError:
                pass

    def _finish(self, listeners) -> int:
        self.log.flush()
        if self.log.fd >= 0:
            os.close(self.log.fd)
        if self.error:
            self._report("error " + self.error.replace("\n", " "))
            code = -1
        else:
            code = exit_code_of(self.status or 0)
        if self.container_pid == 0 and self.cfg["mode"] == "run":
            self.container_pid = self._read_pid()
        oom = oom_killed(self.cfg.get("oom_files", []))
        self.exit_record = {"exit_code": code, "oom_killed": oom, "pid": self.container_pid, "error": self.error}
        if self.cfg.get("exit_file") and not self.error:
            write_atomic(self.cfg["exit_file"], exit_record(code, oom, self.container_pid, self.error))
        fr = frame(3, _struct.pack(">i", code))
        for fd, c in list(self.clients.items()):
            try:
                c.sendall(fr)
            except OSError:
                pass
            self._drop(fd)
        for s in listeners:
            s.close()
        for path in (self.cfg.get("attach_socket"), self.cfg.get("console_socket")):
            if path:
                try:
                    os.unlink(path)
                except OSError:
                    pass
        for fd in list(self.handlers):
            self._unwatch(fd)
        self.ep.close()
        if self.tty_master >= 0:
            os.close(self.tty_master)
        self._close_stdin()
        return code


def _noop(*_args) -> None:
    pass


def serve(cfg: dict) -> int:
    """Body of a detached monitor: run the container, then exec the exit command."""
    for sig in (_signal.SIGINT, _signal.SIGHUP, _signal.SIGPIPE, _signal.SIGTTOU, _signal.SIGTTIN):
        _signal.signal(sig, _signal.SIG_IGN)
    if cfg.get("stacks_file"):  # the seed's hung-daemon recipe: SIGUSR1 dumps every thread's stack
        import faulthandler

        faulthandler.register(_signal.SIGUSR1, file=open(cfg["stacks_file"], "w"), all_threads=True)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGUSR1})  # blocked by the CLI until the handler exists
    mon = Monitor(cfg)
    try:
        mon.run()
    except BaseException as exc:  # the CLI must hear about a failure, never EOF
        mon._report(("error monitor: %r" % (exc,)).replace("\n", " "))
        raise
    cmd = cfg.get("exit_command")
    if cmd and not mon.error:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.execv(cmd[0], cmd)
    return 0


def main(argv: list) -> int:
    with open(argv[1], "rb") as f:
        cfg = marshal.load(f)
    return serve(cfg)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
