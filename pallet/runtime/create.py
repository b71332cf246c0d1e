"""`create`: set everything up and leave the container's init blocked on the exec fifo.

On any failure nothing is left: no process, cgroup, mount (they live in
the init's mount ns, which dies with it) or state dir.
"""

from __future__ import annotations

import os

from pallet.errors import AlreadyExists, InvalidArgument, NotFound, PalletError, Unavailable
from pallet.oci.runtime_spec import Spec, read_json_file
from pallet.values import frozen
from pallet.runtime import state as st
from pallet.runtime.process import parent as par
from pallet.runtime.process import sync
from pallet.runtime.process.sync import ChildStart
from pallet.runtime.trace import mark


@frozen
class CreateOptions:
    """One container to create (runc create's flags; `stdio` is for library callers)."""

    root: str
    id: str
    bundle: str
    pid_file: str | None = None
    console_socket: str | None = None
    no_pivot: bool = False
    no_new_keyring: bool = False
    preserve_fds: int = 0
    stdio: tuple[int, int, int] | None = None  # fds for the container's 0,1,2; None: ours
    console_fd: int | None = None  # an already connected console socket (run -t without --console-socket)
    subreaper: bool = False  # become the init's parent (PR_SET_CHILD_SUBREAPER) to wait for it, as `run` does

    def __post_init__(self):
        st.validate_id(self.id)
        if self.preserve_fds < 0:
            raise InvalidArgument("--preserve-fds must not be negative")


def check_spec(spec: Spec, opts: CreateOptions) -> None:
    """Refuse, before forking, what the init would fail at later."""
    if spec.process is None:
        raise InvalidArgument("config.json: process: is required")
    linux = spec.linux
    check_capabilities(spec.process.capabilities, "process.capabilities")
    kinds = {n.type for n in linux.namespaces}
    if spec.hostname and "uts" not in kinds:
        raise InvalidArgument("config.json: hostname: needs a new UTS namespace (linux.namespaces)")
    if spec.domainname and "uts" not in kinds:
        raise InvalidArgument("config.json: domainname: needs a new UTS namespace (linux.namespaces)")
    if "mount" not in kinds:
        raise InvalidArgument("config.json: linux.namespaces: a mount namespace is required")
    userns = linux.namespace("user")
    if userns is not None and not userns.path and not (linux.uid_mappings and linux.gid_mappings):
        raise InvalidArgument("config.json: linux.uidMappings: a new user namespace needs uid and gid mappings")
    if spec.process.terminal and opts.console_socket is None and opts.console_fd is None:
        raise InvalidArgument("process.terminal is set: pass --console-socket (a unix socket receiving the pty master)")
    if spec.process.apparmor_profile and not os.path.exists("/sys/kernel/security/apparmor"):
        raise Unavailable(f"config.json: process.apparmorProfile: {spec.process.apparmor_profile}: AppArmor is not enabled on this host")
    if spec.process.selinux_label and not os.path.exists("/sys/fs/selinux/enforce"):
        raise Unavailable(f"config.json: process.selinuxLabel: {spec.process.selinux_label}: SELinux is not enabled on this host")
    if linux.mount_label and not os.path.exists("/sys/fs/selinux/enforce"):
        raise Unavailable(f"config.json: linux.mountLabel: {linux.mount_label}: SELinux is not enabled on this host")


def check_capabilities(caps, path: str) -> None:
    if caps is None:
        return
    from pallet.linux.capnames import CAPS

    for key in caps.__fields__:
        for name in getattr(caps, key):
            if name not in CAPS:
                raise InvalidArgument(f"config.json: {path}.{key}: unknown capability {name!r}")


def create(opts: CreateOptions) -> st.ContainerState:
    bundle = os.path.abspath(opts.bundle)
    if not os.path.isdir(bundle):
        raise NotFound(f"bundle {bundle}: no such directory")
    raw = read_json_file(os.path.join(bundle, "config.json"), "config.json")
    spec = Spec.from_json(raw)
    check_spec(spec, opts)
    rootfs_path = spec.root.path if spec.root.path.startswith("/") else os.path.join(bundle, spec.root.path)
    if not os.path.isdir(rootfs_path):
        raise InvalidArgument(f"config.json: root.path: {rootfs_path}: no such directory")
    par.require_single_thread(f"create {opts.id}")
    os.makedirs(opts.root, 0o711, exist_ok=True)
    cdir = st.container_dir(opts.root, opts.id)
    try:
        os.mkdir(cdir, 0o711)
    except FileExistsError:
        raise AlreadyExists(f"container {opts.id} already exists") from None
    try:
        state = _launch(opts, spec, raw, bundle, rootfs_path, cdir)
    except BaseException:
        _rmtree(cdir)
        raise
    if opts.pid_file:
        _write_pid_file(opts.pid_file, state.pid)
    return state


def _write_pid_file(path: str, pid: int) -> None:
    path = os.path.abspath(path)
    st.write_atomic(path, str(pid).encode(), 0o644)


def _rmtree(path: str) -> None:
    st.remove_tree(path)


def _launch(opts: CreateOptions, spec: Spec, raw: dict, bundle: str, rootfs_path: str, cdir: str) -> st.ContainerState:
    linux = spec.linux
    minimum = 3 + opts.preserve_fds
    program = None
    if linux.seccomp:
        from pallet.runtime.seccomp import compile_filter

        program = compile_filter(linux.seccomp)  # before fork: the child only installs it
    if spec.hooks is not None:
        import pallet.runtime.hooks  # noqa: F401  (the parent runs prestart/createRuntime)
    fds: list[int] = []
    sock = child_sock = None
    mgr = None
    stage1_pid = init_pid = None
    cgroup = None
    try:
        fifo = os.path.join(cdir, st.EXEC_FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # not the umask's: the init may write it as another (mapped) user
        dir_fd = par.high_fd(os.open(cdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), minimum)
        fds.append(dir_fd)
        console_fd = opts.console_fd
        if opts.console_socket:
            console_fd = par.high_fd(par.connect_console(opts.console_socket), minimum)
            fds.append(console_fd)
        elif console_fd is not None:
            console_fd = par.high_fd(os.dup(console_fd), minimum)
            fds.append(console_fd)
        sock, child_sock = par.socketpair(minimum)
        # With a new cgroup ns, stage 1 must be in the cgroup before it unshares (the ns is rooted
        # there); otherwise the cgroup is made while stage 1 prepares, and stage 2 is placed before Setup.
        cgns = linux.namespace("cgroup")
        early_cgroup = cgns is not None and not cgns.path
        child = ChildStart(
            spec=spec, container_id=opts.id, bundle=bundle, no_pivot=opts.no_pivot, sock=child_sock,
            state_dir_fd=dir_fd, console_fd=console_fd, preserve_fds=opts.preserve_fds,
            seccomp_program=program, new_keyring=not opts.no_new_keyring,
        )
        mark("fork stage 1")
        stage1_pid = os.fork()
        if stage1_pid == 0:
            try:
                sock.close()
                if opts.stdio is not None:
                    for target, fd in enumerate(opts.stdio):
                        if fd != target:
                            os.dup2(fd, target)
            except BaseException:
                os._exit(1)
            # The child imports the init's modules, plans the mounts and makes the exec stub
            # itself: that work overlaps the parent's cgroup setup below.
            from pallet.runtime.process.init import start_child

            start_child(child)
            os._exit(1)  # not reached
        child_sock.close()
        child_sock = None
        # Stage 1 first imports the init's modules and plans the mounts, then waits for Go:
        # meanwhile we become a subreaper (before stage 1 exits, so its orphan comes to us).
        if opts.subreaper:
            from pallet.linux.prctl import set_child_subreaper

            set_child_subreaper(True)
        cgroup = _Cgroup(linux.cgroups_path, opts.id, linux.resources)
        if early_cgroup:
            cgroup.place(stage1_pid)
        sync.send(sock, sync.Go())
        # Made while stage 1 unshares namespaces and forks stage 2, which mounts (two CPUs, two workers).
        cgroup.prepare()
        mark("cgroup made")
        init_pid = _drive(sock, spec, opts, stage1_pid, bundle, cgroup)
        mark("init ready")
        mgr = cgroup.mgr
        info = st.proc_stat(init_pid)
        if info is None:
            raise par.ContainerError(f"container {opts.id}: init exited during create")
        import pwd

        try:
            owner = pwd.getpwuid(os.geteuid()).pw_name
        except KeyError:
            owner = str(os.geteuid())
        state = st.ContainerState(
            id=opts.id, pid=init_pid, pid_start=info[1], bundle=bundle, rootfs=rootfs_path,
            created=st.now_rfc3339(), owner=owner, annotations=dict(spec.annotations),
            config=raw, cgroup=mgr.to_json() if mgr is not None else None,
        )
        st.save(opts.root, state)
        mark("state saved")
        return state
    except BaseException as exc:
        mgr = cgroup.mgr if cgroup is not None else None
        par.kill_quietly(init_pid)
        par.kill_quietly(stage1_pid)
        if stage1_pid:
            try:
                os.waitpid(stage1_pid, 0)
            except ChildProcessError:
                pass
        if init_pid:
            par.wait_gone(init_pid, None)
        if mgr is not None:
            try:
                mgr.destroy(kill=True)
            except Exception:
                pass
        if isinstance(exc, sync.ProtocolError):
            raise par.ContainerError(f"container {opts.id}: {exc}") from None
        raise
    finally:
        for fd in fds:
            os.close(fd)
        for s in (sock, child_sock):
            if s is not None:
                s.close()


class _Cgroup:
    """The container's cgroup, made on first use (see the ordering note in _launch)."""

    def __init__(self, path: str | None, container_id: str, resources: dict | None):
        self.path = path
        self.id = container_id
        self.resources = resources
        self.mgr = None

    def prepare(self) -> None:
        """Create the cgroup and write its limits while it is still empty: the device rules
        must be whole before stage 2 joins (it mknods), as runc orders it."""
        if self.mgr is not None:
            return
        from pallet.cgroups import open_manager

        mgr = open_manager(self.path, self.id)
        mgr.create()
        self.mgr = mgr
        if self.resources:
            for warning in mgr.apply(self.resources) or ():
                os.write(2, f"pallet-runtime: warning: {warning}\n".encode())

    def place(self, pid: int) -> None:
        self.prepare()
        self.mgr.add_pid(pid)


def _drive(sock, spec: Spec, opts: CreateOptions, stage1_pid: int, bundle: str, cgroup: _Cgroup) -> int:
    """Answer the init's requests until it is Ready; return its pid."""
    from pallet.runtime.userns import write_maps

    init_pid = 0
    while True:
        msg = sync.recv(sock)
        if msg is None:
            reason = "closed the sync socket"
            try:
                pid, status = os.waitpid(stage1_pid, os.WNOHANG)
                if pid:
                    reason = par.exit_reason(status)
            except ChildProcessError:
                pass
            raise par.ContainerError(f"container {opts.id}: init died without a word ({reason})")
        if isinstance(msg, sync.ChildError):
            raise sync.ProtocolError(msg.message)
        if isinstance(msg, sync.NeedIdMaps):
            write_maps(stage1_pid, spec.linux.uid_mappings, spec.linux.gid_mappings)
            _send(sock, sync.IdMapsDone())
        elif isinstance(msg, sync.Stage2Pid):
            init_pid = msg.pid
            mark("stage 2 pid received")
            os.waitpid(stage1_pid, 0)
            cgroup.place(init_pid)
            mark("cgroup placed")
            state = _hook_state(opts, bundle, spec, init_pid)
            _send(sock, sync.Setup(state=state))
        elif isinstance(msg, sync.RunHooks):
            from pallet.runtime.hooks import run_hooks

            state = _hook_state(opts, bundle, spec, init_pid)
            try:
                run_hooks("prestart", spec.hooks.get("prestart"), state)
                run_hooks("createRuntime", spec.hooks.get("createRuntime"), state)
            except PalletError as exc:
                raise par.ContainerError(f"container {opts.id}: {exc}") from None
            _send(sock, sync.HooksDone())
        elif isinstance(msg, sync.Ready):
            return init_pid
        else:
            raise par.ContainerError(f"container {opts.id}: unexpected message {type(msg).__name__} from init")


def _send(sock, msg) -> None:
    """Send; if the init already failed, its ChildError is waiting in our buffer: raise that instead."""
    try:
        sync.send(sock, msg)
    except OSError:
        reply = sync.recv(sock)
        if isinstance(reply, sync.ChildError):
            raise sync.ProtocolError(reply.message) from None
        raise sync.ProtocolError("init died before it could say why") from None


def _hook_state(opts: CreateOptions, bundle: str, spec: Spec, pid: int) -> dict:
    out = {"ociVersion": st.OCI_VERSION, "id": opts.id, "status": st.CREATING, "pid": pid, "bundle": bundle}
    if spec.annotations:
        out["annotations"] = dict(spec.annotations)
    return out
