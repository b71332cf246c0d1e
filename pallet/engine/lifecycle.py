"""Start, run, stop, kill, wait, pause, restart, cleanup: a container's status transitions.

    created --start--> running --exit/stop/kill--> exited --start--> running
                        |   ^
                  pause v   | unpause
                        paused

A detached start spawns the monitor (exec'd `python -I -S monitor.py`), which
runs the runtime's create; a foreground `run` runs the same Monitor class in
this process with the runtime's one-shot `run`. Either way the exit file is
folded in by whoever looks next, and `cleanup` (the monitor's exit command)
deletes the runtime state, unmounts, and applies --rm and restart policies.
"""

from __future__ import annotations

import marshal
import os
import sys
import time

from pallet import fastjson
from pallet.engine import containers, rootfs, spec_plan
from pallet.engine.containers import ACTIVE, ContainerState, locked
from pallet.engine.dbconn import write
from pallet.engine.env import ContainerEnv
from pallet.engine.monitor import MONITOR_PY
from pallet.errors import PalletError, Unavailable, WrongState
from pallet.metadata import containers as table


class StartError(PalletError):
    """The runtime could not start the user's process; `exit_code` is Docker's (125, 126, 127)."""

    def __init__(self, msg: str, exit_code: int = 125):
        super().__init__(msg)
        self.exit_code = exit_code


def classify(msg: str) -> int:
    low = msg.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return 127
    if "permission denied" in low or "is a directory" in low or "exec format error" in low:
        return 126
    return 125


def _short_msg(msg: str) -> str:
    # runc: "runc create failed: unable to start container process: exec: "x": executable file not found in $PATH"
    for marker in ("unable to start container process: ",):
        if marker in msg:
            return msg.split(marker, 1)[1]
    # pallet-runtime: "container <64-hex id>: exec /nope: ..."; the engine's message names the container already
    head, sep, rest = msg.partition(": ")
    if sep and head.startswith("container ") and len(head) == 74 and all(c in "0123456789abcdef" for c in head[10:]):
        return rest
    return msg


# ---------------------------------------------------------------- start


def _prepare(env: ContainerEnv, st: ContainerState) -> tuple[str, str]:
    """Clear leftovers of a previous run, mount the rootfs, write the bundle. Returns (bundle, run dir)."""
    rt = env.runtime(st.config.runtime)
    if _stale_runtime_state(rt, st):
        _stop_stale_monitor(env, st)
        rt.delete(st.id, force=True)
    try:
        os.unlink(env.exit_file(st.id))
    except FileNotFoundError:
        pass
    rdir = env.run_dir(st.id)
    os.makedirs(rdir, exist_ok=True)
    root_dir = rootfs.mount(env, st.row, volatile=st.config.auto_remove)
    try:
        if st.config.ipc_mode == "shareable":
            from pallet.engine import shm

            shm.mount(env, st.config)
        bundle = spec_plan.write_bundle(env, st, root_dir)
    except BaseException:
        containers.unmount_all(env, st)
        raise
    return bundle, rdir


def _stale_runtime_state(rt, st: ContainerState) -> bool:
    """Whether the runtime still has a container of this id from an earlier attempt: after a run (exited, or a
    failed start), or a "created" one whose `run -d` died between the runtime's create and its start (a binary
    runtime's monitor made it; its init still waits). A never-started container costs one stat here, not a
    `runc state`."""
    if not (st.row.started_at or st.row.error):
        root = getattr(rt, "state_root", "")
        if not root or not os.path.isdir(os.path.join(root, st.id)):
            return False
    return rt.state(st.id) is not None


def _stop_stale_monitor(env: ContainerEnv, st: ContainerState) -> None:
    """The monitor of a container created for a start that never came waits on that container's init; deleting
    the init would make it write an exit record and run a cleanup, both of which would land on the container
    started next. SIGKILL it first (it writes nothing then). It is the init's parent (a subreaper), named by
    the pid file the runtime wrote, and only a process whose command line names this container is killed."""
    try:
        with open(os.path.join(env.run_dir(st.id), "pid")) as f:
            init = int(f.read().strip() or 0)
        with open(f"/proc/{init}/stat", "rb") as f:
            stat = f.read()
        ppid = int(stat[stat.rfind(b")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return
    if ppid > 1 and ppid != os.getpid():
        containers.stop_monitor(env, ContainerState(st.row.replace(monitor_pid=ppid), st.config))
        deadline = time.monotonic() + 5
        while containers.alive(ppid) and time.monotonic() < deadline:  # gone (or a zombie) before the delete
            time.sleep(0.01)


def _oom_files(cid: str) -> list[str]:
    return [f"/sys/fs/cgroup/memory{containers.cgroups_path(cid)}/memory.oom_control",
            f"/sys/fs/cgroup{containers.cgroups_path(cid)}/memory.events"]


def _monitor_config(env: ContainerEnv, st: ContainerState, bundle: str, rdir: str, mode: str) -> dict:
    rt = env.runtime(st.config.runtime)
    pid_file = os.path.join(rdir, "pid")
    rlog = os.path.join(rdir, "runtime.log")
    try:
        os.unlink(rlog)
    except FileNotFoundError:
        pass
    cfg = st.config
    if mode == "adopt":
        argv, console = [], ""
    elif mode == "create":
        console = os.path.join(rdir, "console.sock") if cfg.tty else ""  # any length: see the monitor's bind
        argv = rt.create_argv(st.id, bundle, pid_file, log=rlog, console_socket=console)
    else:
        argv = rt.run_argv(st.id, bundle, pid_file, log=rlog)
        console = ""
    return {
        "id": st.id, "mode": mode, "argv": argv, "pid_file": pid_file,
        "log_path": env.log_path(st.id) if cfg.log_driver != "none" else "", "log_max_size": cfg.log_max_size, "log_max_file": cfg.log_max_file,
        "exit_file": env.exit_file(st.id), "attach_socket": "attach.sock" if mode != "run" else "",
        "console_socket": console, "tty": cfg.tty, "interactive": cfg.interactive,
        "stdin_once": cfg.stdin_once,
        "stacks_file": os.path.join(rdir, "stacks.txt"), "runtime_log": rlog, "oom_files": _oom_files(st.id),
        # --config only for a file that exists: a named one must exist, and the default may be absent
        "exit_command": [sys.executable, "-m", "pallet.cli.main", "--root", env.root, "--runroot", env.runroot,
                         *(("--config", env.config_path) if os.path.exists(env.config_path) else ()),
                         "container", "cleanup", st.id],
        "rundir": rdir,
        # runc repeats its own failure on the container's stderr: keep it out of the log and the terminal
        "hide_runtime_error_prefix": f"{cfg.runtime} ",
    }


# Import the monitor as a module (from its .pyc) rather than run it as a script: a script is compiled
# from source in the monitor's heap on every start, which costs ~1.5 MiB of PSS for the container's life.
MONITOR_BOOT = (
    "import sys;sys.path[0:0]=[%r];import monitor;sys.exit(monitor.main(sys.argv))" % os.path.dirname(MONITOR_PY)
)


def _ensure_pyc() -> None:
    import importlib.util

    pyc = importlib.util.cache_from_source(MONITOR_PY)
    try:
        if os.stat(pyc).st_mtime >= os.stat(MONITOR_PY).st_mtime:
            return
    except OSError:
        pass
    import py_compile

    try:
        py_compile.compile(MONITOR_PY, cfile=pyc, doraise=True)
    except (OSError, py_compile.PyCompileError):
        pass  # read-only install: the monitor still runs, compiled in memory


def _stdio_pipes(interactive: bool):
    """(container stdio, monitor ends): the container gets stdin/stdout/stderr, the monitor the other ends."""
    if interactive:
        in_r, in_w = os.pipe()
    else:
        in_r, in_w = os.open(os.devnull, os.O_RDONLY), -1
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    return (in_r, out_w, err_w), {"stdin": in_w, "stdout": out_r, "stderr": err_r}


def _create_in_process(rt, st: ContainerState, bundle: str, pid_file: str) -> tuple[int, dict]:
    """In-process runtime: create the container; (init pid, the monitor's fds: pipes, or with -t the pty master)."""
    if st.config.tty:
        cpid, master = rt.create_terminal(st.id, bundle, pid_file)
        return cpid, {"stdin": -1, "stdout": -1, "stderr": -1, "tty": master}
    cstdio, mine = _stdio_pipes(st.config.interactive)
    try:
        cpid = rt.create(st.id, bundle, pid_file, cstdio)
    except BaseException:
        for fd in mine.values():
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in cstdio:
            os.close(fd)
    return cpid, mine


SYNC_TIMEOUT = 120.0


def _read_sync_line(r: int, monitor_pid: int) -> str:
    """The monitor's one-line answer. One line, not EOF: the container's init may hold the pipe's
    write end until it execs. A monitor that says nothing for SYNC_TIMEOUT is killed, not waited on forever."""
    import select

    buf = b""
    deadline = time.monotonic() + SYNC_TIMEOUT
    try:
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([r], [], [], left)[0]:
                try:
                    os.killpg(monitor_pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
                return f"error the runtime did not create the container within {int(SYNC_TIMEOUT)} s"
            chunk = os.read(r, 4096)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(r)
    return buf.decode(errors="replace").split("\n", 1)[0].strip()


def _fork_monitor(env: ContainerEnv, st: ContainerState, bundle: str, rdir: str,
                  hold_output: bool = False) -> tuple[int, int, int]:
    """In-process runtime: fork; the child creates the container (so the init is its child) and execs the monitor.

    The child shares the CLI's container lock (the forked fd) until that exec, so `rm -f` and `system check
    --repair` wait for a create in flight; it execs only once the CLI tried `start` (the ack pipe), and when the
    CLI died before that (a killed `run -d`), it deletes what it created instead (see _abandon_created)."""
    from pallet.linux.prctl import set_child_subreaper

    rt = env.runtime(st.config.runtime)
    mcfg = _monitor_config(env, st, bundle, rdir, "adopt")
    mcfg["hold_output"] = hold_output
    _ensure_pyc()
    r, w = os.pipe()
    ack_r, ack_w = os.pipe()  # CLI -> child: "s" once `start` was tried; EOF if the CLI died before
    pid = os.fork()
    if pid == 0:  # child: never returns
        code = 1
        try:
            os.close(r)
            os.close(ack_w)
            os.setsid()
            set_child_subreaper(True)
            os.chdir(rdir)
            cpid, mine = _create_in_process(rt, st, bundle, mcfg["pid_file"])
            # Answer now rather than from the exec'd monitor: saves its ~15 ms start from `run -d`.
            try:
                os.write(w, b"ok %d\n" % cpid)
            except OSError:  # the CLI is gone already
                _abandon_created(rt, st.id)
                return
            os.close(w)
            w = -1
            mcfg.update(sync_fd=-1, fds=mine, container_pid=cpid)
            for fd in [f for f in mine.values() if f >= 0]:
                os.set_inheritable(fd, True)
            path = os.path.join(rdir, "monitor.cfg")
            with open(path, "wb") as f:
                marshal.dump(mcfg, f)
            devnull = os.open(os.devnull, os.O_RDONLY)
            err = os.open(os.path.join(rdir, "monitor.err"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(devnull, 0)
            os.dup2(err, 1)
            os.dup2(err, 2)
            # Exec only once the CLI has been past `start`: EOF means it died in between (a killed `run -d`).
            if os.read(ack_r, 1) != b"s":
                _abandon_created(rt, st.id)
                return
            os.close(ack_r)
            _exec_monitor(path)
        except BaseException as exc:  # report, never EOF
            try:
                if w >= 0:
                    os.write(w, ("error " + str(exc).replace("\n", " ") + "\n").encode())
            except OSError:
                pass
        finally:
            os._exit(code)
    os.close(w)
    os.close(ack_r)
    line = _read_sync_line(r, pid)
    if line.startswith("ok "):
        return pid, int(line[3:] or 0), ack_w
    os.close(ack_w)
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    msg = line[6:] if line.startswith("error ") else "the monitor exited before creating the container"
    raise StartError(f"container {st.name}: {_short_msg(msg)}", classify(msg))


def _exec_monitor(cfg_path: str) -> None:
    """Become the container's lean monitor (mode "adopt": the container is our child already)."""
    # `run -d` returns before the monitor's Python is up: a SIGUSR1 (stack dump) sent meanwhile must
    # wait for its handler instead of killing the monitor. The mask survives exec; serve() unblocks.
    import signal

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", MONITOR_BOOT, cfg_path])


def _abandon_created(rt, cid: str) -> None:
    """The creating child, when the CLI died between create and start: nobody will start this container, and its
    init inherited the CLI's container lock (an fd the init keeps until its exec), so `rm -f` would wait for it
    forever. Delete the container while this process still holds that lock; `rm -f` then finds only the record."""
    try:
        rt.delete(cid, force=True)
    except PalletError:
        pass


def spawn_monitor(env: ContainerEnv, st: ContainerState, bundle: str, rdir: str,
                  lock_fd: int = -1, hold_output: bool = False) -> tuple[int, int, int]:
    """Exec a detached monitor that creates the container; return (monitor pid, container pid, ack fd).
    With the in-process runtime the caller must write b"s" to the ack fd (or close it) once it tried `start`:
    until then the monitor's creator waits, and tears the container down if the fd closes unwritten.
    A binary runtime's monitor gets `lock_fd` (the caller's container lock) and keeps it until the runtime's
    create is over, so a killed caller leaves no create in flight that `rm -f` or `system check --repair` race.
    `hold_output`: the monitor keeps the container's output unread until the first attach client (`start -a`)."""
    if getattr(env.runtime(st.config.runtime), "in_process", False):
        return _fork_monitor(env, st, bundle, rdir, hold_output)
    mcfg = _monitor_config(env, st, bundle, rdir, "create")
    mcfg["hold_output"] = hold_output
    _ensure_pyc()
    r, w = os.pipe()
    mcfg["sync_fd"] = w
    mcfg["lock_fd"] = lock_fd
    path = os.path.join(rdir, "monitor.cfg")
    with open(path, "wb") as f:
        marshal.dump(mcfg, f)
    from pallet.linux.prctl import set_child_subreaper

    with open(os.path.join(rdir, "monitor.err"), "ab") as err:
        # PR_SET_CHILD_SUBREAPER survives execve: set it in the child so the monitor needs no ctypes.
        import subprocess  # lazily: a foreground `run` with the in-process runtime never spawns

        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", MONITOR_BOOT, path], pass_fds=[w, lock_fd] if lock_fd >= 0 else [w],
            start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=rdir, close_fds=True,
            preexec_fn=set_child_subreaper,
        )
    os.close(w)
    line = _read_sync_line(r, proc.pid)
    proc.returncode = 0  # never waited for: it outlives us (silences Popen's ResourceWarning)
    if line.startswith("ok "):
        return proc.pid, int(line[3:] or 0), -1
    msg = line[6:] if line.startswith("error ") else "the monitor exited before creating the container"
    raise StartError(f"container {st.name}: {_short_msg(msg)}", classify(msg))


def _mark_running(env: ContainerEnv, cid: str, pid: int, monitor_pid: int) -> None:
    with write(env.db):
        table.update(env.db, cid, status="running", pid=pid, pid_start=containers.proc_start_time(pid) if pid else 0,
                     monitor_pid=monitor_pid, started_at=time.time(), finished_at=0.0, exit_code=0, error="",
                     oom_killed=0, stopped_by_user=0)


def _start_failed(env: ContainerEnv, st: ContainerState, exc: StartError) -> None:
    try:
        containers.teardown_runtime(env, st, kill=True)
    except PalletError:
        pass
    with write(env.db):
        table.update(env.db, st.id, error=str(exc), exit_code=exc.exit_code, monitor_pid=0)


def start_locked(env: ContainerEnv, st: ContainerState, lock_fd: int = -1, *,
                 hold_output: bool = False) -> ContainerState:
    """Start `st` (its lock held by the caller, on `lock_fd`) detached, under a monitor; `hold_output` when the
    caller attaches next (`start -a`), so it sees the output from the first byte."""
    if st.status == "running":
        return st
    if st.status == "paused":
        raise WrongState(f"container {st.name} is paused: unpause it instead")
    if st.status == "removing":
        raise WrongState(f"container {st.name} is being removed: cannot start")
    bundle, rdir = _prepare(env, st)
    try:
        mpid, pid, ack = spawn_monitor(env, st, bundle, rdir, lock_fd, hold_output)
    except StartError as exc:
        _start_failed(env, st, exc)
        raise
    rt = env.runtime(st.config.runtime)
    try:
        rt.start(st.id)
    except PalletError as exc:
        err = StartError(f"container {st.name}: {_short_msg(str(exc))}", classify(str(exc)))
        _start_failed(env, st, err)
        raise err from None
    finally:
        if ack >= 0:  # the creator may exec the monitor now (on a failed start, the monitor sees the exit)
            try:
                os.write(ack, b"s")
            except OSError:
                pass
            os.close(ack)
    _mark_running(env, st.id, pid, mpid)
    return containers.load(env, st.id)


def start(env: ContainerEnv, ref: str, *, hold_output: bool = False) -> ContainerState:
    cid = containers.resolve(env, ref)
    with locked(env, cid) as lock:
        containers.sync_one(env, cid)
        st = containers.load(env, cid)
        if st.row.restart_count and st.status != "running":  # Docker: a start by the user counts anew
            with write(env.db):
                table.update(env.db, cid, restart_count=0)
            st = containers.load(env, cid)
        return start_locked(env, st, lock.fd, hold_output=hold_output)


def _create_for_foreground(env: ContainerEnv, rt, st: ContainerState, bundle: str, mcfg: dict) -> None:
    """Create the container in this process for a monitor that runs here (no attach socket); on failure, record
    it (and remove a --rm container) and raise StartError."""
    mcfg.update(attach_socket="")
    try:
        cpid, mine = _create_in_process(rt, st, bundle, mcfg["pid_file"])
    except PalletError as exc:
        raise _foreground_start_failed(env, st, str(exc)) from None
    mcfg.update(fds=mine, container_pid=cpid)


def _foreground_start_failed(env: ContainerEnv, st: ContainerState, message: str) -> StartError:
    """Record a foreground run's failed start (and remove a --rm container); the error to raise."""
    err = StartError(f"container {st.name}: {_short_msg(message)}", classify(message))
    _start_failed(env, st, err)
    if st.config.auto_remove:
        containers.remove(env, st.id, force=True, volumes=True, resolved=True)
    return err


def run_foreground(env: ContainerEnv, st: ContainerState, *, stdin_fd: int | None, detach_keys: bytes = b"") -> int:
    """`run` without -d: this process is the container's monitor (a subreaper); returns Docker's exit code.
    `detach_keys` (-it, in-process runtime): a forked child is the monitor instead, so that on those keys it can
    go on as the container's detached monitor while this process returns 0 (see _foreground_child)."""
    from pallet.engine.monitor.monitor import Monitor
    from pallet.linux.prctl import set_child_subreaper

    rt = env.runtime(st.config.runtime)
    with locked(env, st.id):
        bundle, rdir = _prepare(env, st)
        if getattr(rt, "in_process", False):
            mode = "adopt"
        else:
            mode = "run" if st.config.tty else "create"
        mcfg = _monitor_config(env, st, bundle, rdir, mode)
        mcfg["forward_signals"] = True
    if mode == "run":
        # The runtime's one-shot `run` owns the terminal; no log is kept for a foreground -t.
        _mark_running(env, st.id, 0, os.getpid())
        import subprocess

        proc = subprocess.Popen(mcfg["argv"])
        code = proc.wait()
        code = 128 - code if code < 0 else code
        from pallet.engine.monitor.monitor import runtime_error, write_atomic

        err = runtime_error(mcfg["runtime_log"])
        if err:
            exc = StartError(f"container {st.name}: {_short_msg(err)}", classify(err))
            _start_failed(env, st, exc)
            with write(env.db):
                table.update(env.db, st.id, status="created" if not st.row.started_at else "exited")
            if st.config.auto_remove:
                containers.remove(env, st.id, force=True, volumes=True, resolved=True)
            raise exc
        write_atomic(env.exit_file(st.id), fastjson.dumps({"exit_code": code, "finished_at": time.time()}).encode())
        cleanup(env, st.id, foreground=True)
        return code

    def started(pid: int) -> str:
        try:
            rt.start(st.id)
        except PalletError as exc:
            return str(exc)
        _mark_running(env, st.id, pid, os.getpid())
        return ""

    if detach_keys and st.config.tty and stdin_fd is not None and getattr(rt, "in_process", False):
        pid, child_report = _fork_foreground()
        if pid:
            return _await_foreground(pid, child_report)
        code = 125
        try:  # the child: never returns (it exits, or execs the detached monitor)
            try:
                code = _foreground_child(env, st, rt, mcfg, bundle, rdir, stdin_fd, detach_keys, started,
                                         child_report)
                msg = b"X"
            except StartError as exc:
                code, msg = exc.exit_code, b"E%d %s" % (exc.exit_code, str(exc).encode())
            except BaseException as exc:  # noqa: BLE001 - the parent tells the user; we only exit
                if not isinstance(exc, PalletError):
                    import traceback

                    traceback.print_exc()
                msg = b"P" + (str(exc) or type(exc).__name__).encode()
            try:
                os.write(child_report, msg)
                sys.stdout.flush()
            except (OSError, ValueError):
                pass
        finally:
            os._exit(code)
    set_child_subreaper(True)
    if getattr(rt, "in_process", False):
        _create_for_foreground(env, rt, st, bundle, mcfg)
    mon = Monitor(mcfg, local_out=(1, 2), local_in=stdin_fd, on_created=started)
    if mcfg.get("fds", {}).get("tty", -1) >= 0:
        from pallet.engine.monitor.terminal import local_terminal

        with local_terminal(mcfg["fds"]["tty"], raw=stdin_fd is not None):
            code = mon.run()
    else:
        code = mon.run()
    if mon.error:
        raise _foreground_start_failed(env, st, mon.error)
    cleanup(env, st.id)
    return code


DETACHED_MESSAGE = "read escape sequence\n"  # what Docker's CLI says when the detach keys were typed


def _fork_foreground() -> tuple[int, int]:
    """(child pid or 0 in the child, the child's end of the report pipe in the child / ours in the parent)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        return 0, w
    os.close(w)
    return pid, r


def _await_foreground(pid: int, r: int) -> int:
    """The user's `run -it` process while its child is the monitor: forward signals, wait for the child's one
    report: b"D" detached (we return 0, it runs on), b"X" the container exited (its code is the child's status),
    b"E<code> <msg>" a failed start, b"P<msg>" any other failure."""
    import signal

    def forward(signum, _frame):
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    old = {sig: signal.signal(sig, forward) for sig in sigs}
    msg = b""
    try:
        while not msg.startswith(b"D"):
            chunk = os.read(r, 4096)
            if not chunk:
                break
            msg += chunk
    finally:
        os.close(r)
        for sig, h in old.items():
            signal.signal(sig, h)
    if msg.startswith(b"D"):
        sys.stderr.write(DETACHED_MESSAGE)  # on the terminal the child gave back
        return 0  # never waited for: it is the container's monitor now, and outlives us
    _, status = os.waitpid(pid, 0)
    if msg.startswith(b"E"):
        code, _, text = msg[1:].partition(b" ")
        raise StartError(text.decode(errors="replace"), int(code))
    if msg.startswith(b"P"):
        raise PalletError(msg[1:].decode(errors="replace"))
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _foreground_child(env: ContainerEnv, st: ContainerState, rt, mcfg: dict, bundle: str, rdir: str,
                      stdin_fd: int, keys: bytes, started, report: int) -> int:
    """The monitor of a foreground `run -it` (a child of the user's `pallet run`): relay the terminal as
    run_foreground does; on the detach keys, give the terminal back, tell the parent, leave its session and
    exec the lean monitor in mode "adopt" (the container stays our child; json-file log, attach socket, exit
    file and the exit command, hence --rm and restart, as after `run -d`)."""
    from pallet.engine.attach import split_detach
    from pallet.engine.monitor.monitor import Monitor
    from pallet.engine.monitor.terminal import local_terminal
    from pallet.linux.prctl import set_child_subreaper

    set_child_subreaper(True)
    _create_for_foreground(env, rt, st, bundle, mcfg)
    mine = mcfg["fds"]
    held = b""

    def detach_filter(data: bytes) -> tuple[bytes, bool]:
        nonlocal held
        data, detached, held = split_detach(held + data, keys)
        return data, detached

    mon = Monitor(mcfg, local_out=(1, 2), local_in=stdin_fd, on_created=started, detach_filter=detach_filter)
    with local_terminal(mine["tty"], raw=True):
        code = mon.run()
    if code is None:  # detached: the terminal is the user's again
        mon.log.flush()
        os.write(report, b"D")
        os.close(report)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        err = os.open(os.path.join(rdir, "monitor.err"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(devnull, 0)
        os.dup2(err, 1)
        os.dup2(err, 2)
        os.chdir(rdir)
        os.set_inheritable(mine["tty"], True)
        mcfg.update(mode="adopt", attach_socket="attach.sock", forward_signals=False, sync_fd=-1, hold_output=False)
        _ensure_pyc()
        path = os.path.join(rdir, "monitor.cfg")
        with open(path, "wb") as f:
            marshal.dump(mcfg, f)
        _exec_monitor(path)
    if mon.error:
        raise _foreground_start_failed(env, st, mon.error)
    cleanup(env, st.id)
    return code


# ---------------------------------------------------------------- exit handling


def _should_restart(st: ContainerState) -> bool:
    pol = st.config.restart
    if st.row.stopped_by_user or pol.name == "no":
        return False
    if pol.name in ("always", "unless-stopped"):
        return True
    return st.row.exit_code != 0 and (pol.max_retries == 0 or st.row.restart_count < pol.max_retries)


def cleanup(env: ContainerEnv, cid: str, *, foreground: bool = False) -> None:
    """After the container's process exited: fold, delete runtime state, unmount; --rm; restart policy."""
    try:
        with locked(env, cid) as lock:
            row = table.get(env.db, cid)
            if row is None:  # removed meanwhile (rm -f): don't leave the lock file locked() just made, nor the
                for path in (env.lock_file(cid), env.exit_file(cid)):  # exit file a monitor wrote after the rm
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                return
            containers.sync_one(env, cid, row)
            st = containers.load(env, cid)
            if st.status in ACTIVE:
                return
            if foreground:  # the runtime's one-shot `run` deleted its own state
                containers.unmount_all(env, st)
            else:
                try:
                    containers.teardown_runtime(env, st, kill=False)
                except PalletError:
                    containers.teardown_runtime(env, st, kill=True)
            if st.config.auto_remove:
                pass
            elif _should_restart(st) and not foreground:
                with write(env.db):
                    table.update(env.db, cid, restart_count=st.row.restart_count + 1)
                time.sleep(0.1)  # Docker backs off; a short fixed delay keeps a crash loop cheap
                try:
                    start_locked(env, containers.load(env, cid), lock.fd)
                except PalletError as exc:
                    with write(env.db):
                        table.update(env.db, cid, error=f"restart failed: {exc}")
                return
    except FileNotFoundError:
        return
    if st.config.auto_remove:
        containers.remove(env, cid, force=True, volumes=True, resolved=True, torn_down=True)


def wait_exit(env: ContainerEnv, cid: str, timeout: float | None) -> ContainerState | None:
    """Poll until the container is no longer active; None on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    while True:
        row = table.get(env.db, cid)
        if row is None:
            return None
        containers.sync_one(env, cid, row)
        st = containers.load(env, cid)
        if st.status not in ACTIVE:
            return st
        if deadline is not None and time.monotonic() >= deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def stop(env: ContainerEnv, ref: str, timeout: int | None = None, signal_name: str | None = None) -> str:
    st = containers.get(env, ref)
    if st.status not in ACTIVE and st.config.restart.name != "no":
        # its exit command may be restarting it under the lock: no later restart, and stop what that one started
        with write(env.db):
            table.update(env.db, st.id, stopped_by_user=1)
        with locked(env, st.id, wait=5):
            pass
        st = containers.get(env, st.id)
    if st.status not in ACTIVE:
        return st.id
    with write(env.db):
        table.update(env.db, st.id, stopped_by_user=1)
    rt = env.runtime(st.config.runtime)
    sig = signal_name or st.config.stop_signal or "SIGTERM"
    t = st.config.stop_timeout if timeout is None else timeout
    try:
        rt.kill(st.id, sig)
        if st.status == "paused":
            rt.resume(st.id)
    except PalletError:
        pass
    if t > 0 and wait_exit(env, st.id, t) is not None:
        return st.id
    try:
        rt.kill(st.id, "SIGKILL", all_processes=True)
    except PalletError:
        containers.kill_cgroup(containers.cgroups_path(st.id))
    if wait_exit(env, st.id, 10) is None:
        raise Unavailable(f"container {st.name} did not exit after SIGKILL")
    return st.id


def kill(env: ContainerEnv, ref: str, signal_name: str = "SIGKILL") -> str:
    st = containers.get(env, ref)
    if st.status not in ACTIVE:
        raise WrongState(f"container {st.name} is {st.status}: cannot kill")
    sig = signal_name.upper()
    if not sig.isdigit() and not sig.startswith("SIG"):
        sig = "SIG" + sig
    if sig in ("SIGKILL", "9", "SIGTERM", "15"):
        with write(env.db):
            table.update(env.db, st.id, stopped_by_user=1)
    env.runtime(st.config.runtime).kill(st.id, sig)
    return st.id


def pause(env: ContainerEnv, ref: str) -> str:
    st = containers.get(env, ref)
    if st.status != "running":
        raise WrongState(f"container {st.name} is {_human_status(st.status)}: cannot pause")
    env.runtime(st.config.runtime).pause(st.id)
    with write(env.db):
        table.update(env.db, st.id, status="paused")
    return st.id


def unpause(env: ContainerEnv, ref: str) -> str:
    st = containers.get(env, ref)
    if st.status != "paused":
        raise WrongState(f"container {st.name} is {_human_status(st.status)}: cannot unpause")
    env.runtime(st.config.runtime).resume(st.id)
    with write(env.db):
        table.update(env.db, st.id, status="running")
    return st.id


def _human_status(status: str) -> str:
    return {"exited": "stopped"}.get(status, status)


def restart(env: ContainerEnv, ref: str, timeout: int | None = None) -> str:
    cid = stop(env, ref, timeout)
    with locked(env, cid) as lock:
        st = containers.load(env, cid)
        start_locked(env, st, lock.fd)
    return cid


def wait(env: ContainerEnv, ref: str) -> int:
    """Block until the container stops; its exit code. A --rm container may be gone by then:
    the code then comes from its exit file, read while it still existed."""
    st = containers.get(env, ref)
    seen = None
    delay = 0.005
    while True:
        rec = containers.read_exit(env, st.id)
        if rec is not None:
            seen = int(rec.get("exit_code", 0))
        row = table.get(env.db, st.id)
        if row is None:
            return seen if seen is not None else st.row.exit_code
        containers.sync_one(env, st.id, row)
        cur = containers.load(env, st.id)
        if cur.status not in ACTIVE:
            return cur.row.exit_code
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def update(env: ContainerEnv, ref: str, *, memory: str = "", memory_swap: str = "", cpus: str = "",
           cpu_shares: int = 0, pids_limit: int = 0, restart: str = "") -> str:
    """Change limits of a container (live through the runtime when it runs) and its restart policy."""
    from pallet.engine import config as c
    from pallet.engine import spec_builder
    from pallet.errors import InvalidArgument

    cid = containers.resolve(env, ref)
    changes: dict = {}
    if memory:
        changes["memory"] = c.parse_size(memory, "--memory")
    if memory_swap:
        changes["memory_swap"] = -1 if memory_swap == "-1" else c.parse_size(memory_swap, "--memory-swap")
    if cpus:
        try:
            changes["nano_cpus"] = int(float(cpus) * 1e9)
        except (ValueError, OverflowError):  # "abc", "nan"; "inf"
            raise InvalidArgument(f"invalid --cpus {cpus!r}: expected a number") from None
    if cpu_shares:
        changes["cpu_shares"] = cpu_shares
    if pids_limit:
        changes["pids_limit"] = pids_limit
    policy = c.parse_restart(restart) if restart else None
    # Under the container's lock, as the other verbs: a concurrent `rm -f`, start or exit cleanup waits, so the
    # live limits and the stored config change together, on a container that is still there.
    with locked(env, cid):
        containers.sync_one(env, cid)
        st = containers.load(env, cid)
        if st.status == "removing":
            raise WrongState(f"container {st.name} is being removed: cannot update")
        cfg = st.config.replace(resources=st.config.resources.replace(**changes), restart=policy or st.config.restart)
        if cfg.auto_remove and cfg.restart.name != "no":
            raise InvalidArgument("conflicting options: --restart and --rm")
        if changes:  # what create would refuse, with the values kept merged in: before the cgroup or the record moves
            spec_plan.check_resources(cfg.resources)
        if changes and st.status in ACTIVE:
            res = spec_builder.plan_resources(cfg)
            res.pop("devices", None)
            env.runtime(cfg.runtime).update(st.id, res)
        with write(env.db):
            env.db.execute("UPDATE containers SET config = ? WHERE id = ?", (cfg.to_json(), st.id))
    return st.id
