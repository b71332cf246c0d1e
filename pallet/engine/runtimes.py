"""The Runtime protocol and its implementations.

A Runtime creates, starts, signals and deletes OCI containers from bundles.
Lifecycle of one container, as the engine drives it:

    create(id, bundle)      -> init process waits in the container (status "created")
    start(id)               -> the user's process runs ("running")
    kill(id, sig) / exits   -> ("stopped")
    delete(id[, force])     -> runtime state and cgroup gone

A detached container's init must be a child of its monitor (a subreaper), so
the monitor itself runs the create step: `create_argv()` gives it the command
line. `run()` is the foreground fast path: create, start and wait in one call.

Implementations: `BinaryRuntime` drives any runc-compatible binary (runc,
crun, pallet-runtime) through its command line; the in-process pallet runtime
library is selected when present (see `open_runtime`).
"""

from __future__ import annotations

import os

from pallet import fastjson
from pallet.errors import InvalidArgument, NotFound, PalletError, Unavailable


class RuntimeError_(PalletError):
    """The runtime refused an operation; the message is its own, one line."""


class Runtime:  # a protocol in intent; no typing.Protocol base: `import typing` is ~3 ms of every `run`
    name: str

    def create_argv(self, cid: str, bundle: str, pid_file: str, *, log: str = "", console_socket: str = "") -> list[str]: ...
    def run_argv(self, cid: str, bundle: str, pid_file: str, *, log: str = "") -> list[str]: ...
    def start(self, cid: str) -> None: ...
    def kill(self, cid: str, signal: str, all_processes: bool = False) -> None: ...
    def delete(self, cid: str, force: bool = False) -> None: ...
    def state(self, cid: str) -> dict | None: ...
    def pause(self, cid: str) -> None: ...
    def resume(self, cid: str) -> None: ...
    def ps(self, cid: str) -> list[int]: ...
    def exec_argv(self, cid: str, process_file: str, detach: bool, pid_file: str = "", *, log: str = "") -> list[str]: ...
    def update(self, cid: str, resources: dict) -> None: ...


def runtime_message(stderr: str) -> str:
    """The last error line of a runtime's stderr, without logrus decoration."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    import re  # lazily: only on a runtime's error, off every `run`'s import path

    m = re.search(r'msg="((?:[^"\\]|\\.)*)"', last)
    if m:
        return m.group(1).replace('\\"', '"').replace("\\\\", "\\")
    return last.strip()


class BinaryRuntime:
    """A runc-compatible binary driven through its CLI, with state under `state_root`."""

    def __init__(self, *, name: str, path: str, state_root: str, extra_args: tuple[str, ...] = ()):
        self.name, self.path, self.state_root, self.extra_args = name, path, state_root, tuple(extra_args)

    def _base(self) -> list[str]:
        return [self.path, *self.extra_args, "--root", self.state_root]

    def _call(self, *args: str, what: str, cid: str) -> str:
        import subprocess  # lazily: ~5 ms (threading, selectors, signal); the in-process runtime never execs

        proc = subprocess.run([*self._base(), *args], capture_output=True, text=True)
        if proc.returncode != 0:
            msg = runtime_message(proc.stderr) or f"exit status {proc.returncode}"
            if "does not exist" in msg or "not exist" in msg:
                raise NotFound(f"container {cid[:12]} has no {self.name} state: {msg}")
            raise RuntimeError_(f"{self.name} {what} {cid[:12]}: {msg}")
        return proc.stdout

    def _logged(self, log: str) -> list[str]:
        return [*self._base(), "--log", log, "--log-format", "json"] if log else self._base()

    def create_argv(self, cid: str, bundle: str, pid_file: str, *, log: str = "", console_socket: str = "") -> list[str]:
        extra = ["--console-socket", console_socket] if console_socket else []
        return [*self._logged(log), "create", "--bundle", bundle, "--pid-file", pid_file, *extra, cid]

    def run_argv(self, cid: str, bundle: str, pid_file: str, *, log: str = "") -> list[str]:
        return [*self._logged(log), "run", "--bundle", bundle, "--pid-file", pid_file, cid]

    def start(self, cid: str) -> None:
        self._call("start", cid, what="start", cid=cid)

    def kill(self, cid: str, signal: str, all_processes: bool = False) -> None:
        args = ["kill", *(["--all"] if all_processes else []), cid, signal]
        self._call(*args, what="kill", cid=cid)

    def delete(self, cid: str, force: bool = False) -> None:
        self._call("delete", *(["--force"] if force else []), cid, what="delete", cid=cid)

    def state(self, cid: str) -> dict | None:
        import subprocess

        proc = subprocess.run([*self._base(), "state", cid], capture_output=True, text=True)
        if proc.returncode != 0:
            return None
        return fastjson.loads(proc.stdout)

    def pause(self, cid: str) -> None:
        self._call("pause", cid, what="pause", cid=cid)

    def resume(self, cid: str) -> None:
        self._call("resume", cid, what="resume", cid=cid)

    def ps(self, cid: str) -> list[int]:
        out = self._call("ps", "--format", "json", cid, what="ps", cid=cid)
        return fastjson.loads(out or "[]") or []

    def exec_argv(self, cid: str, process_file: str, detach: bool, pid_file: str = "", *, log: str = "") -> list[str]:
        args = [*self._logged(log), "exec", "--process", process_file]
        if detach:
            args.append("--detach")
        if pid_file:
            args += ["--pid-file", pid_file]
        return [*args, cid]

    def update(self, cid: str, resources: dict) -> None:
        import subprocess

        proc = subprocess.run(
            [*self._base(), "update", "--resources", "-", cid],
            input=fastjson.dumps(resources), capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError_(f"{self.name} update {cid[:12]}: {runtime_message(proc.stderr)}")


# Known runtimes by name; daemon.json `runtimes` adds more ({"name": {"path": ..., "runtimeArgs": [...]}}).
_BUILTIN_PATHS = {"runc": ("/usr/sbin/runc", "/usr/bin/runc"), "crun": ("/usr/bin/crun",)}


def _which(name: str) -> str | None:
    for d in os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin").split(os.pathsep) + ["/usr/sbin", "/usr/bin"]:
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    return None


def available(configured: dict | None = None) -> dict[str, str]:
    """name -> path of every runtime pallet could use."""
    found: dict[str, str] = {}
    for name, paths in _BUILTIN_PATHS.items():
        for p in paths:
            if os.access(p, os.X_OK):
                found[name] = p
                break
    import sys

    beside = os.path.join(os.path.dirname(sys.executable), "pallet-runtime")
    pr = beside if os.access(beside, os.X_OK) else _which("pallet-runtime")
    if pr:
        found["pallet-runtime"] = pr
    for name, spec in (configured or {}).items():
        found[name] = spec.get("path", name)
    return found


def default_runtime_name() -> str:
    """pallet's own runtime, in process: the fast default."""
    return "pallet"


def open_runtime(name: str, runroot: str, configured: dict | None = None) -> Runtime:
    """The runtime called `name`, its state kept under runroot/runtimes/<name>."""
    configured = configured or {}
    state_root = os.path.join(runroot, "runtimes", name)
    if name in configured:
        spec = configured[name]
        path = spec.get("path") or _which(name)
        if not path:
            raise Unavailable(f"runtime {name!r}: no path configured and not found on PATH")
        if os.sep in path and not os.access(path, os.X_OK):  # daemon.json's path: say so before anything is made
            raise Unavailable(f"runtime {name!r}: {path} is not an executable file")
        return BinaryRuntime(name=name, path=path, state_root=state_root, extra_args=tuple(spec.get("runtimeArgs", ())))
    if name == "pallet":
        return LibraryRuntime(name=name, state_root=state_root)
    paths = available()
    if name not in paths:
        known = ", ".join(sorted([*paths, "pallet"]))
        raise InvalidArgument(f"unknown runtime {name!r}: available runtimes are {known}")
    return BinaryRuntime(name=name, path=paths[name], state_root=state_root)


class _LazyApi:
    """pallet.runtime.api's names, each imported from its own module on first use: `run --rm` needs create,
    start, state and delete, and importing the api module (every verb: exec, run, ps, list...) costs ~3.5 ms."""

    HOMES = {"create": "create", "CreateOptions": "create", "start": "start", "delete": "delete", "kill": "kill",
             "pids": "ps", "exec_process": "exec", "ExecOptions": "exec"}

    def __getattr__(self, name: str):
        import sys

        home = self.HOMES.get(name)
        if home is None:
            from pallet.runtime import api

            value = getattr(api, name)
        else:
            module = f"pallet.runtime.{home}"
            __import__(module)
            value = getattr(sys.modules[module], name)
        setattr(self, name, value)
        return value

    @staticmethod
    def state(root: str, cid: str) -> dict:
        """api.state without the api module."""
        from pallet.runtime import state as st

        cs = st.load(root, cid)
        return st.oci_state(cs, st.status(root, cs))


_API = _LazyApi()


class LibraryRuntime:
    """pallet's own runtime, called in process through pallet.runtime.api (no exec of a runtime binary).

    `in_process` tells the engine to create containers by forking (the child becomes the monitor,
    see lifecycle.spawn_monitor) instead of running `create_argv()` in a monitor.
    """

    in_process = True

    def __init__(self, *, name: str, state_root: str):
        self.name, self.state_root = name, state_root
        # Compiled seccomp programs, keyed by a hash of the profile (and compiler version): compiling the default
        # one costs ~12 ms of every `run`, and its imports ~15 ms more. <runroot>/seccomp-cache, root-only.
        self.seccomp_cache = os.path.join(os.path.dirname(os.path.dirname(state_root.rstrip("/"))), "seccomp-cache")

    def _api(self):
        return _API

    def _wrap(self, what: str, cid: str, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except NotFound:
            raise NotFound(f"container {cid[:12]} has no {self.name} runtime state") from None
        except PalletError as exc:
            raise RuntimeError_(f"{self.name} {what} {cid[:12]}: {exc}") from None

    def create(self, cid: str, bundle: str, pid_file: str, stdio: tuple[int, int, int]) -> int:
        """Create in this process (the caller must be single-threaded); returns the init's pid."""
        api = self._api()
        cs = api.create(api.CreateOptions(root=self.state_root, id=cid, bundle=bundle, pid_file=pid_file, stdio=stdio,
                                          seccomp_cache=self.seccomp_cache))
        return cs.pid

    def create_terminal(self, cid: str, bundle: str, pid_file: str) -> tuple[int, int]:
        """Create a container whose process has a terminal (process.terminal); returns (init pid, pty master).

        The init opens the pty inside the container's devpts and sends the master back over a socketpair
        (the runtime's console-socket protocol without a socket path); its stdio is /dev/null until then."""
        import _socket

        from pallet.linux.tty import recv_fd

        api = self._api()
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            cs = api.create(api.CreateOptions(root=self.state_root, id=cid, bundle=bundle, pid_file=pid_file,
                                              stdio=(null, null, null), console_fd=theirs.fileno(),
                                              seccomp_cache=self.seccomp_cache))
            theirs.close()
            try:
                master, _ = recv_fd(ours)
            except OSError as exc:
                api.delete(self.state_root, cid, force=True)
                raise RuntimeError_(f"{self.name} create {cid[:12]}: no pty master from the container: {exc}") from None
        finally:
            theirs.close()
            ours.close()
            os.close(null)
        os.set_inheritable(master, False)
        return cs.pid, master

    def create_argv(self, cid, bundle, pid_file, *, log="", console_socket=""):
        raise Unavailable("the in-process pallet runtime has no command line: use --runtime pallet-runtime")

    run_argv = create_argv

    def start(self, cid: str) -> None:
        self._wrap("start", cid, self._api().start, self.state_root, cid)

    def kill(self, cid: str, signal: str, all_processes: bool = False) -> None:
        sig = int(signal) if str(signal).isdigit() else signal
        self._wrap("kill", cid, self._api().kill, self.state_root, cid, sig, all=all_processes)

    def delete(self, cid: str, force: bool = False) -> None:
        self._wrap("delete", cid, self._api().delete, self.state_root, cid, force=force)

    def state(self, cid: str) -> dict | None:
        if not os.path.isdir(os.path.join(self.state_root, cid)):
            return None
        try:
            return self._api().state(self.state_root, cid)
        except PalletError:
            return None

    def pause(self, cid: str) -> None:
        from pallet.runtime.pause import pause

        self._wrap("pause", cid, pause, self.state_root, cid)

    def resume(self, cid: str) -> None:
        from pallet.runtime.resume import resume

        self._wrap("resume", cid, resume, self.state_root, cid)

    def ps(self, cid: str) -> list[int]:
        return self._wrap("ps", cid, self._api().pids, self.state_root, cid)

    def exec_argv(self, cid, process_file, detach, pid_file="", *, log=""):
        raise Unavailable("the in-process pallet runtime has no command line")

    def exec_file(self, cid: str, process_file: str, *, detach: bool, stdio=None, tty: bool = False) -> int:
        api = self._api()
        if not (detach and tty):
            return api.exec_process(api.ExecOptions(root=self.state_root, id=cid, process_file=process_file,
                                                    detach=detach, stdio=stdio))
        # exec -d -t: a pty nobody reads (Docker discards that output too). The master goes to a `cat` that
        # drains it, so the process neither blocks on a full pty nor gets SIGHUP when we exit.
        import _socket

        from pallet.linux.tty import recv_fd

        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
        try:
            code = api.exec_process(api.ExecOptions(root=self.state_root, id=cid, process_file=process_file,
                                                    detach=True, stdio=stdio, console_fd=theirs.fileno()))
            theirs.close()
            master, _ = recv_fd(ours)
        finally:
            theirs.close()
            ours.close()
        try:
            _drain(master)
        finally:
            os.close(master)
        return code

    def update(self, cid: str, resources: dict) -> None:
        import tempfile

        from pallet.runtime.update import read_resources, update

        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            f.write(fastjson.dumps(resources))
            f.flush()
            changes = read_resources(f.name)
        self._wrap("update", cid, update, self.state_root, cid, changes)


def _drain(fd: int) -> None:
    """Read `fd` to its end in a detached `cat` (a new session; init reaps it once we are gone)."""
    null = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.posix_spawn("/bin/cat", ["cat"], {}, setsid=True,
                       file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                                     (os.POSIX_SPAWN_DUP2, null, 2)])
    finally:
        os.close(null)
