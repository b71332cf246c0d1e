"""`exec`: run another process inside a created or running container.

    parent            middle (fork)                          final (fork; in the container's pid ns)
      | fork ------> | non-dumpable; wait Go
      | cgroup add_pid(middle)
      | --- Go ----> | open /proc/<init>/ns/* and its root;
      |              | setns user first, then the others
      |              | fork -------------------------------> | chroot to the init's root; tty; rlimits;
      | <-- ExecPid(final) -- _exit(0)                        | cwd; exe lookup; user; caps
      | <-- Ready ----------------------------------------------- | (or ChildError) -> execve via the stub
      (ExecPid and Ready race on the one socket: the parent takes them in either order)
      | wait (unless --detach); exit status

setns into a mount namespace needs a single-threaded caller: the middle
process is a fresh fork of a single-threaded parent.
"""

from __future__ import annotations

import os

from pallet.linux._libc import strerror
from pallet.errors import InvalidArgument
from pallet.oci.runtime_spec import Capabilities, Process, Spec, User, read_json_file
from pallet.values import frozen
from pallet.runtime import state as st
from pallet.runtime.process import parent as par
from pallet.runtime.process import sync


@frozen
class ExecOptions:
    """runc exec's flags; `process_file` (a process.json) replaces the rest, as in runc."""

    root: str
    id: str
    args: tuple[str, ...] = ()
    process_file: str | None = None
    process: Process | None = None  # library callers: a whole Process value
    env: tuple[str, ...] = ()
    cwd: str | None = None
    user: str | None = None  # UID[:GID]
    additional_gids: tuple[int, ...] = ()
    caps: tuple[str, ...] = ()
    no_new_privs: bool = False
    tty: bool = False
    detach: bool = False
    pid_file: str | None = None
    console_socket: str | None = None
    preserve_fds: int = 0
    apparmor: str | None = None
    process_label: str | None = None
    ignore_paused: bool = False
    stdio: tuple[int, int, int] | None = None
    console_fd: int | None = None  # library callers: a connected socket that receives the pty master


def build_process(opts: ExecOptions, spec: Spec) -> Process:
    """The process to run: a process.json, or the container's process with the flags applied."""
    if opts.process is not None:
        return opts.process
    if opts.process_file:
        return Process.from_json(read_json_file(opts.process_file, opts.process_file), "process.")
    base = spec.process
    if not opts.args:
        raise InvalidArgument(f"exec {opts.id}: no command given (args or --process)")
    env = list(base.env)
    for e in opts.env:
        if "=" not in e:
            raise InvalidArgument(f"exec {opts.id}: --env {e!r} is not KEY=VALUE")
        key = e.split("=", 1)[0] + "="
        env = [x for x in env if not x.startswith(key)] + [e]
    user = base.user
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        try:
            user = User(uid=int(uid), gid=int(gid) if gid else 0, umask=base.user.umask, additional_gids=())
        except ValueError:
            raise InvalidArgument(f"exec {opts.id}: --user {opts.user!r} is not UID[:GID]") from None
    if opts.additional_gids:
        user = user.replace(additional_gids=tuple(opts.additional_gids))
    caps = base.capabilities
    if opts.caps:
        from pallet.linux.capability import CAPS

        for c in opts.caps:
            if c not in CAPS:
                raise InvalidArgument(f"exec {opts.id}: unknown capability {c!r}")
        caps = caps or Capabilities()
        add = tuple(opts.caps)
        caps = Capabilities(
            bounding=tuple(dict.fromkeys(caps.bounding + add)), effective=tuple(dict.fromkeys(caps.effective + add)),
            inheritable=tuple(dict.fromkeys(caps.inheritable + add)), permitted=tuple(dict.fromkeys(caps.permitted + add)),
            ambient=tuple(dict.fromkeys(caps.ambient + add)),
        )
    return base.replace(
        args=tuple(opts.args), env=tuple(env), cwd=opts.cwd or base.cwd, user=user, capabilities=caps,
        terminal=opts.tty, no_new_privileges=base.no_new_privileges or opts.no_new_privs,
        apparmor_profile=opts.apparmor or base.apparmor_profile, selinux_label=opts.process_label or base.selinux_label,
        console_size=None,
    )


def exec_process(opts: ExecOptions) -> int:
    """Run the process; return its exit status (0 with --detach)."""
    from pallet.linux.prctl import get_child_subreaper, set_child_subreaper

    was_subreaper = get_child_subreaper()
    try:
        return _exec_process(opts)
    finally:
        if not was_subreaper:  # a library caller gets its process back as it was
            set_child_subreaper(False)


def _exec_process(opts: ExecOptions) -> int:
    from pallet.linux import ns
    from pallet.runtime import execstub
    from pallet.runtime.process.init import JOIN_ORDER

    cs = st.load(opts.root, opts.id)
    status = st.status(opts.root, cs)
    allowed = (st.CREATED, st.RUNNING, st.PAUSED) if opts.ignore_paused else (st.CREATED, st.RUNNING)
    st.require(cs, status, allowed, "exec")
    spec = Spec.from_json(cs.config)
    proc = build_process(opts, spec)
    if proc.apparmor_profile and not os.path.exists("/sys/kernel/security/apparmor"):
        raise InvalidArgument(f"exec {opts.id}: apparmor profile {proc.apparmor_profile}: AppArmor is not enabled on this host")
    par.require_single_thread(f"exec {opts.id}")
    from pallet.runtime.process import init as init_mod

    init_mod.preload(spec.replace(process=proc))
    program = None
    if spec.linux.seccomp:
        from pallet.runtime.seccomp import compile_filter

        program = compile_filter(spec.linux.seccomp)
    join = []
    for kind in JOIN_ORDER:
        if spec.linux.namespace(kind) is not None:
            flag, name = ns.NAMESPACES[kind]
            join.append((kind, flag, f"/proc/{cs.pid}/ns/{name}"))
    minimum = 3 + opts.preserve_fds
    console = None
    console_fd = None
    if proc.terminal:
        if opts.console_socket:
            console_fd = par.high_fd(par.connect_console(opts.console_socket), minimum)
        elif opts.console_fd is not None:
            console_fd = par.high_fd(os.dup(opts.console_fd), minimum)
        elif not opts.detach:
            import _socket

            console = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
            console_fd = par.high_fd(os.dup(console[1].fileno()), minimum)
            console[1].close()
        else:
            raise InvalidArgument(f"exec {opts.id}: --tty with --detach needs --console-socket")
    if not opts.detach:
        from pallet.linux.prctl import set_child_subreaper

        set_child_subreaper(True)
    stub_fd = par.high_fd(execstub.open_stub(), minimum) if execstub.supported() else None
    sock, child_sock = par.socketpair(minimum)
    middle = final = None
    mgr = None
    if cs.cgroup:
        from pallet.cgroups import manager_from_json

        mgr = manager_from_json(cs.cgroup)
    try:
        middle, born = _fork_into(mgr)
        if middle == 0:
            sock.close()
            if opts.stdio is not None:
                for target, fd in enumerate(opts.stdio):
                    if fd != target:
                        os.dup2(fd, target)
            _middle(child_sock, cs.pid, tuple(join), proc, program, stub_fd, console_fd, opts.preserve_fds)
            os._exit(1)
        child_sock.close()
        child_sock = None
        # As create's init: the middle joins the v1 hierarchies itself ("0" to `tasks`, no grace
        # period), it was born in the cgroup2 dir where there is one; we move it only elsewhere.
        files = mgr.self_join_files() if mgr is not None else []
        if mgr is not None:
            mgr.add_pid(middle, skip_self_joined=True, skip_clone_dir=born)
        sync.send(sock, sync.Go(cgroup_files=files))
        # The middle's ExecPid and the final's Ready share the socket: either may come first.
        ready = False
        while final is None or not ready:
            msg = sync.recv(sock)
            if isinstance(msg, sync.ExecPid):
                final = msg.pid
                os.waitpid(middle, 0)
                middle = None
            elif isinstance(msg, sync.Ready):
                ready = True
            elif isinstance(msg, sync.ChildError):
                raise sync.ProtocolError(msg.message)
            else:
                raise sync.ProtocolError(f"unexpected {type(msg).__name__ if msg else 'EOF'} from the exec'd process")
    except sync.ProtocolError as exc:
        _reap(middle, final)
        raise par.ContainerError(f"exec {opts.id}: {exc}") from None
    except BaseException:
        _reap(middle, final)
        raise
    finally:
        sock.close()
        for fd in (stub_fd, console_fd):
            if fd is not None:
                os.close(fd)
    if opts.pid_file:
        st.write_atomic(os.path.abspath(opts.pid_file), str(final).encode(), 0o644)
    master = None
    if console is not None:
        from pallet.linux.tty import recv_fd

        master, _ = recv_fd(console[0])
        console[0].close()
    if opts.detach:
        return 0
    from pallet.runtime.run import _wait

    status_ = _wait(final, master)
    code = os.waitstatus_to_exitcode(status_)
    return code if code >= 0 else 128 - code


def _fork_into(mgr) -> tuple[int, bool]:
    """fork(): (pid or 0, born in the cgroup's cgroup2 dir?). Born there by clone3
    CLONE_INTO_CGROUP where the container has one: no migration, no RCU grace period."""
    into = mgr.clone_dir() if mgr is not None else None
    if into is not None:
        from pallet.linux.clone import clone_into_cgroup

        fd = os.open(into, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return clone_into_cgroup(0, fd), True
        except OSError as exc:
            if exc.errno not in (22, 38, 7):  # EINVAL, ENOSYS, E2BIG: a kernel before 5.7
                raise
        finally:
            os.close(fd)
    return os.fork(), False


def _reap(middle, final) -> None:
    par.kill_quietly(final)
    par.kill_quietly(middle)
    for pid in (middle, final):
        if pid:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                par.wait_gone(pid, None, 1.0)


def _middle(sock, init_pid: int, join, proc: Process, program, stub_fd, console_fd, preserve_fds: int) -> None:
    from pallet.linux import ns, prctl
    from pallet.runtime.process import init as init_mod

    try:
        # CVE-2019-5736: the container must never open our /proc/<pid>/exe (the host python).
        prctl.set_dumpable(False)
        go = sync.expect(sock, sync.Go)
        for path in go.cgroup_files:
            init_mod.join_cgroup(path)
        fds = []
        root_fd = os.open(f"/proc/{init_pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        for kind, flag, path in join:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise OSError(exc.errno, f"open {kind} namespace {path}: {strerror(exc.errno)}") from None
            # Joining our own namespace is a no-op the kernel may refuse (user ns: EINVAL).
            if os.readlink(path) != os.readlink(f"/proc/self/ns/{os.path.basename(path)}"):
                fds.append((fd, flag, path))
            else:
                os.close(fd)
        for fd, flag, path in fds:
            ns.setns(fd, flag, path)
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            _final(sock, root_fd, proc, program, stub_fd, console_fd, preserve_fds)
            os._exit(1)
        sync.send(sock, sync.ExecPid(pid=pid))
        os._exit(0)
    except BaseException as exc:
        init_mod.fail(sock, exc)


def _final(sock, root_fd: int, proc: Process, program, stub_fd, console_fd, preserve_fds: int) -> None:
    from pallet.runtime.process import init as init_mod

    try:
        # The init's root: right after pivot_root and with --no-pivot (chroot) alike.
        os.fchdir(root_fd)
        os.chroot(".")
        os.close(root_fd)
        os.chdir("/")
        if proc.terminal:
            init_mod.setup_console(console_fd, proc, console_bind=False)
        exe, env = init_mod.prepare_process(proc, program)
        init_mod.finish_process(proc, program)
        sync.send(sock, sync.Ready())
        sock.close()
    except BaseException as exc:
        init_mod.fail(sock, exc)
    try:
        init_mod.exec_process(proc, exe, env, stub_fd, preserve_fds)
    except BaseException as exc:
        os.write(2, f"pallet-runtime: exec: {init_mod.describe(exc)}\n".encode())
        os._exit(127)
