"""The container side of create (stage 1 and stage 2) and of exec.

Runs in forked children of a single-threaded parent; never returns: every
path ends in execve or `os._exit`, and every error is first sent to the
parent as `ChildError` (see sync.py for the protocol).
"""

from __future__ import annotations

import os
import sys

from pallet.linux import ns, prctl
from pallet.linux._libc import strerror
from pallet.linux.misc import cloexec_from, join_session_keyring, keyctl_setperm, setdomainname, sethostname
from pallet.oci.runtime_spec import Process
from pallet.values import frozen
from pallet.runtime import capabilities, execstub, rlimits, rootfs, userns
from pallet.runtime.process import sync
from pallet.runtime.trace import mark

# Everything the child runs after pivot_root must be imported before: the
# host's site-packages is gone by then. Optional parts are loaded by
# `preload(spec)` in the parent, before fork.


def preload(spec) -> None:
    capabilities.capability.last_cap()  # read once here, inherited
    if spec.hooks is not None:
        import pallet.runtime.hooks  # noqa: F401
    if spec.process is not None and spec.process.terminal:
        import pallet.linux.tty  # noqa: F401
    if spec.linux.seccomp:
        import pallet.runtime.seccomp  # noqa: F401
    import pallet.linux.netif  # noqa: F401

EXEC_FIFO = "exec.fifo"  # = pallet.runtime.state.EXEC_FIFO
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Join order: the user ns first, so its owner's rights cover the others; mnt late.
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


@frozen
class InitConfig:
    """Everything the init needs, built by the parent before fork (inherited, never sent)."""

    spec: object  # pallet.oci.runtime_spec.Spec
    container_id: str
    plan: object | None  # rootfs.RootfsPlan; None without a new mount ns
    sock: object  # our end of the sync socketpair
    state_dir_fd: int  # O_PATH fd of the state dir: exec.fifo is opened through it after pivot_root
    stub_fd: int | None  # sealed memfd with the exec stub
    console_fd: int | None  # connected --console-socket
    preserve_fds: int
    seccomp_program: object | None
    join: tuple  # ((nstype, clone flag, path), ...) in JOIN_ORDER
    unshare_flags: int  # new namespaces other than user
    new_userns: bool
    lo_up: bool  # a new net ns: bring lo up
    new_keyring: bool  # a session keyring of its own (runc's default; --no-new-keyring turns it off)


def describe(exc: BaseException) -> str:
    """One line: the message our syscall layer built, or `path: reason`."""
    if isinstance(exc, OSError):
        msg = exc.strerror or str(exc)
        if exc.filename and str(exc.filename) not in msg:
            msg = f"{exc.filename}: {msg[:1].lower() + msg[1:]}"
        return msg
    if isinstance(exc, sync.ProtocolError):
        return str(exc)
    return str(exc) or type(exc).__name__


def fail(sock, exc: BaseException) -> None:
    try:
        sync.send(sock, sync.ChildError(message=describe(exc)))
    except BaseException:
        pass
    os._exit(1)


# ---------------------------------------------------------------- stage 1


def namespace_plan(spec) -> tuple[tuple, int, bool]:
    """(namespaces to join by path, CLONE_NEW* flags to unshare, new user ns?) in JOIN_ORDER."""
    join = []
    flags = 0
    new_userns = False
    by_type = {n.type: n for n in spec.linux.namespaces}
    for kind in JOIN_ORDER:
        n = by_type.get(kind)
        if n is None:
            continue
        flag, _ = ns.NAMESPACES[kind]
        if n.path:
            join.append((kind, flag, n.path))
        elif kind == "user":
            new_userns = True
        else:
            flags |= flag
    return tuple(join), flags, new_userns


def init_config(start, *, direct: bool = False) -> InitConfig:
    """The init's whole plan, made by the parent before it forks or clones: everything pure
    (namespaces, mounts) and the sealed exec stub, so the child only applies it and imports
    nothing (its copy-on-write faults make each import there cost twice the parent's).
    `direct`: born by clone() in its new namespaces (see pallet.runtime.create), only a cgroup
    ns is left to make. The caller closes `stub_fd` in the parent."""
    from pallet.runtime.process.parent import high_fd

    spec = start.spec
    preload(spec)
    join, unshare_flags, new_userns = namespace_plan(spec)
    if direct:
        join, unshare_flags, new_userns = (), unshare_flags & ns.CLONE_NEWCGROUP, False
    in_userns = new_userns or any(k == "user" for k, _, _ in join)
    plan = rootfs.plan(spec, start.bundle, no_pivot=start.no_pivot, in_userns=in_userns)
    cgns = spec.linux.namespace("cgroup")
    plan = rootfs.expand_cgroup_mounts(plan, cgroupns=cgns is not None and not cgns.path)
    minimum = 3 + start.preserve_fds
    stub_fd = high_fd(execstub.open_stub(), minimum) if execstub.supported() else None
    return InitConfig(
        spec=spec, container_id=start.container_id, plan=plan, sock=start.sock,
        state_dir_fd=start.state_dir_fd, stub_fd=stub_fd, console_fd=start.console_fd,
        preserve_fds=start.preserve_fds, seccomp_program=start.seccomp_program, join=join,
        unshare_flags=unshare_flags, new_userns=new_userns,
        lo_up=any(n.type == "network" and not n.path for n in spec.linux.namespaces),
        new_keyring=start.new_keyring,
    )


def start_child(cfg: InitConfig) -> None:
    """Stage 1, right after fork: the parent meanwhile makes the cgroup."""
    stage1(cfg)


def start_init(cfg: InitConfig) -> None:
    """The init born by clone() in its new namespaces: stage 1 and 2 in one process.

    Go, join the cgroup, unshare a cgroup ns (rooted there) if asked, then as stage 2."""
    sock = cfg.sock
    root_fd = None
    try:
        # CVE-2019-5736: no process of the container may open our /proc/<pid>/exe (the host python).
        prctl.set_dumpable(False)
        mark("init started")
        if cfg.plan is not None and rootfs.mounts_before_join(cfg.plan):
            # Mounts, device nodes and links that need neither the cgroup nor its ns: made while
            # the parent makes the cgroup (the cgroup mounts wait for it: rootfs.prepare_late).
            root_fd = rootfs.prepare(cfg.plan)
            mark("early mounts done")
        go = sync.expect(sock, sync.Go)
        for path in go.cgroup_files:
            join_cgroup(path)
        if cfg.unshare_flags:
            ns.unshare(cfg.unshare_flags)
    except BaseException as exc:
        fail(sock, exc)
    stage2(cfg, root_fd)


def join_cgroup(tasks_file: str) -> None:
    """Move this (single-threaded) process into a v1 cgroup: "0" is "the writer"."""
    try:
        fd = os.open(tasks_file, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, f"join cgroup {os.path.dirname(tasks_file)}: {strerror(exc.errno)}") from None


def stage1(cfg: InitConfig) -> None:
    """Join and create namespaces, then fork stage 2 into them."""
    sock = cfg.sock
    try:
        # CVE-2019-5736: no process of the container may open our /proc/<pid>/exe (the host python).
        prctl.set_dumpable(False)
        # Go: the parent is a subreaper if it wants to be, and the cgroup is ready: we join it
        # ourselves where the parent says we can (the init, forked below, is born in it).
        go = sync.expect(sock, sync.Go)
        for path in go.cgroup_files:
            join_cgroup(path)
        fds = []
        for nstype, flag, path in cfg.join:
            try:
                fds.append((os.open(path, os.O_RDONLY | os.O_CLOEXEC), flag, path))
            except OSError as exc:
                raise OSError(exc.errno, f"open {nstype} namespace {path}: {strerror(exc.errno)}") from None
        for fd, flag, path in fds:
            ns.setns(fd, flag, path)
            os.close(fd)
        if cfg.new_userns:
            ns.unshare(ns.CLONE_NEWUSER)
            sync.send(sock, sync.NeedIdMaps())
            sync.expect(sock, sync.IdMapsDone)
            try:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            except OSError as exc:
                raise OSError(exc.errno, f"become root in the user namespace: {strerror(exc.errno)} (is 0 mapped?)") from None
        if cfg.unshare_flags:
            ns.unshare(cfg.unshare_flags)
        mark("stage 1 forks stage 2")
        pid = os.fork()
        if pid == 0:
            stage2(cfg)
        sync.send(sock, sync.Stage2Pid(pid=pid))
        os._exit(0)
    except BaseException as exc:
        fail(sock, exc)


# ---------------------------------------------------------------- stage 2


def stage2(cfg: InitConfig, root_fd: int | None = None) -> None:
    """`root_fd`: prepare(cfg.plan) was done already (see start_init)."""
    sock = cfg.sock
    spec = cfg.spec
    proc: Process = spec.process
    try:
        if cfg.lo_up:
            from pallet.linux.netif import set_up

            set_up("lo")
        if cfg.plan is not None:
            # The cgroup hierarchies (everything, if start_init could not mount before Go) while
            # the parent places us in the cgroup and compiles seccomp.
            if root_fd is None:
                root_fd = rootfs.prepare(cfg.plan)
            rootfs.prepare_late(cfg.plan, root_fd)
            mark("mounts done")
        if cfg.new_keyring:
            # The host's session keyring must not be shared with the container (runc does the same).
            try:
                serial = join_session_keyring(f"_ses.{cfg.container_id}")
                keyctl_setperm(serial, 0x3F1B0000)  # runc's: possessor all; user view, read, search, link
            except OSError as exc:
                if exc.errno not in (38, 13, 122):  # ENOSYS, EACCES (user ns), EDQUOT: runc goes on too
                    raise
        setup = sync.expect(sock, sync.Setup)
        state = dict(setup.state)
        program = cfg.seccomp_program
        if setup.seccomp:
            from pallet.runtime.seccomp import SeccompProgram  # preloaded

            program = SeccompProgram(bpf=bytes.fromhex(setup.seccomp), flags=setup.seccomp_flags)
        if proc.oom_score_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(proc.oom_score_adj))
        hooks = spec.hooks
        if hooks and (hooks.get("prestart") or hooks.get("createRuntime")):
            sync.send(sock, sync.RunHooks())
            sync.expect(sock, sync.HooksDone)
        if hooks and hooks.get("createContainer"):
            from pallet.runtime.hooks import run_hooks

            run_hooks("createContainer", hooks.get("createContainer"), state)
        if cfg.plan is not None:
            rootfs.switch_root(cfg.plan, root_fd)
            os.close(root_fd)
        if spec.hostname:
            sethostname(spec.hostname)
        if spec.domainname:
            setdomainname(spec.domainname)
        for key, value in spec.linux.sysctl.items():
            path = "/proc/sys/" + key.replace(".", "/")
            try:
                with open(path, "w") as f:
                    f.write(value)
            except OSError as exc:
                raise OSError(exc.errno, f"sysctl {key}={value}: {strerror(exc.errno)}") from None
        if cfg.plan is not None:
            rootfs.finish(cfg.plan)
        if proc.terminal:
            setup_console(cfg.console_fd, proc, console_bind=cfg.plan is not None and cfg.plan.mount_ns)
        exe, env = prepare_process(proc, program)
        mark("init set up")
        sync.send(sock, sync.Ready())
        sock.close()
    except BaseException as exc:
        fail(sock, exc)
    # From here the parent is gone (create returned): errors go to our stderr.
    try:
        # Not through /proc/self/fd: we are non-dumpable, so that is root's, and we may no longer be.
        fd = os.open(EXEC_FIFO, os.O_WRONLY | os.O_CLOEXEC, dir_fd=cfg.state_dir_fd)
        os.write(fd, b"0")
        os.close(fd)
        os.close(cfg.state_dir_fd)
        finish_process(proc, program)
        if spec.hooks and spec.hooks.get("startContainer"):
            from pallet.runtime.hooks import run_hooks

            state["status"] = "created"  # pid stays the host's view, as the spec defines it
            run_hooks("startContainer", spec.hooks.get("startContainer"), state)
        exec_process(proc, exe, env, cfg.stub_fd, cfg.preserve_fds)
    except BaseException as exc:
        sys.stderr.write(f"pallet-runtime: container {cfg.container_id}: {describe(exc)}\n")
        sys.stderr.flush()
        os._exit(127)


# ---------------------------------------------------------------- the process (init and exec)


def setup_console(console_fd: int | None, proc: Process, console_bind: bool) -> None:
    """Open a pty from the container's devpts, hand the master over --console-socket, make the slave our tty."""
    from pallet.linux import mount as m
    from pallet.linux import tty

    if console_fd is None:
        raise OSError(22, "process.terminal is set but there is no console socket")
    master, slave_path = tty.open_pty("/dev/ptmx")
    if proc.console_size:
        tty.set_winsize(master, proc.console_size[0], proc.console_size[1])
    slave = os.open(slave_path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    if console_bind:
        try:
            if not os.path.exists("/dev/console"):
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            m.mount(slave_path, "/dev/console", None, m.MS_BIND)
        except OSError:
            pass  # a read-only /dev: the console link is a convenience
    tty.send_fd(console_fd, master, slave_path)
    os.close(master)
    os.close(console_fd)
    os.setsid()
    tty.set_controlling(slave)
    for target in (0, 1, 2):
        os.dup2(slave, target)
    os.close(slave)


def process_env(proc: Process, home: str) -> list[str]:
    env = list(proc.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={home}")
    return env


def lookpath(arg0: str, env: list[str]) -> str:
    """The executable `arg0` names, checked now so a bad one is a create-time error."""
    def check(path: str) -> str:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise OSError(exc.errno, f"exec {arg0}: {strerror(exc.errno)}") from None
        if st.st_mode & 0o170000 == 0o040000:  # S_ISDIR
            raise OSError(21, f"exec {arg0}: is a directory")
        if not os.access(path, os.X_OK):
            raise OSError(13, f"exec {arg0}: permission denied")
        return path

    if "/" in arg0:
        return check(arg0)
    path = next((e[5:] for e in env if e.startswith("PATH=")), DEFAULT_PATH)
    for d in path.split(":"):
        cand = os.path.join(d or ".", arg0)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise OSError(2, f'exec {arg0}: executable file not found in $PATH')


def prepare_process(proc: Process, seccomp_program, *, extra_gids: bool = True) -> tuple[str, list[str]]:
    """rlimits, cwd, executable, user and capabilities: everything before the exec fifo."""
    rlimits.apply(proc.rlimits)
    _chdir(proc.cwd)
    name, home = userns.lookup_user(proc.user.uid)
    env = process_env(proc, home)
    exe = lookpath(proc.args[0], env)
    if proc.no_new_privileges:
        prctl.set_no_new_privs()
    elif seccomp_program is not None:
        # Without no_new_privs, installing a filter needs CAP_SYS_ADMIN: do it before we drop it (runc's order).
        from pallet.runtime.seccomp import install_filter

        install_filter(seccomp_program)
    caps = proc.capabilities
    if caps is not None:
        capabilities.drop_bounding(caps)
        prctl.set_keepcaps(True)
    gids = list(proc.user.additional_gids)
    if extra_gids:
        gids = sorted(set(gids) | set(userns.member_gids(name))) if name else gids
    try:
        os.setgroups(gids)
    except OSError as exc:
        if not (exc.errno == 1 and not gids):  # setgroups denied in this user ns: nothing to drop anyway
            raise OSError(exc.errno, f"setgroups {gids}: {strerror(exc.errno)}") from None
    try:
        os.setresgid(proc.user.gid, proc.user.gid, proc.user.gid)
        os.setresuid(proc.user.uid, proc.user.uid, proc.user.uid)
    except OSError as exc:
        raise OSError(exc.errno, f"set user {proc.user.uid}:{proc.user.gid}: {strerror(exc.errno)}") from None
    if caps is not None:
        prctl.set_keepcaps(False)
        capabilities.apply(caps)
    # Again as the user: the permission check that counts. The escape check was done by the first
    # chdir (same path); seccomp may deny getcwd by now, so it is not repeated.
    _chdir(proc.cwd, check_escape=False)
    os.umask(0o022 if proc.user.umask is None else proc.user.umask)
    return exe, env


def _chdir(cwd: str, check_escape: bool = True) -> None:
    try:
        os.chdir(cwd)
    except OSError as exc:
        raise OSError(exc.errno, f"chdir {cwd}: {strerror(exc.errno)}") from None
    if not check_escape:
        return
    # CVE-2024-21626: a cwd like /proc/self/fd/N could name a directory we still hold open
    # outside the container (the state dir). The kernel reports such a cwd as unreachable.
    try:
        here = os.getcwd()
    except OSError:
        here = "(unreachable)"
    if not here.startswith("/"):
        raise OSError(1, f"chdir {cwd}: the working directory is outside the container")


def finish_process(proc: Process, seccomp_program) -> None:
    """Set seccomp as close to execve as possible when no_new_privs allows it."""
    if seccomp_program is not None and proc.no_new_privileges:
        from pallet.runtime.seccomp import install_filter

        install_filter(seccomp_program)


def exec_process(proc: Process, exe: str, env: list[str], stub_fd: int | None, preserve_fds: int) -> None:
    # CVE-2024-21626: no host fd beyond stdio and --preserve-fds survives the exec.
    for fd in range(3, 3 + preserve_fds):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass
    cloexec_from(3 + preserve_fds)
    if stub_fd is not None and stub_fd < 3 + preserve_fds:
        stub_fd = None  # cannot happen with the parent's layout; never exec a preserved fd
    try:
        execstub.exec_program(stub_fd, exe, list(proc.args), env)
    except OSError as exc:
        raise OSError(exc.errno, f"exec {proc.args[0]}: {strerror(exc.errno)}") from None
