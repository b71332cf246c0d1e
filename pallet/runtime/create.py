"""`create`: set everything up and leave the container's init blocked on the exec fifo.

On any failure nothing is left: no process, cgroup, mount (they live in
the init's mount ns, which dies with it) or state dir.
"""

from __future__ import annotations

import _socket
import os

from pallet.linux._libc import strerror
from pallet.errors import AlreadyExists, InvalidArgument, PalletError, Unavailable
from pallet.oci.runtime_spec import Spec, frozen, load
from pallet.runtime import state as st
from pallet.runtime.process import parent as par
from pallet.runtime.process import sync


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
    from pallet.linux.capability import CAPS

    for key in caps.__fields__:
        for name in getattr(caps, key):
            if name not in CAPS:
                raise InvalidArgument(f"config.json: {path}.{key}: unknown capability {name!r}")


def create(opts: CreateOptions) -> st.ContainerState:
    bundle = os.path.abspath(opts.bundle)
    spec = load(bundle)
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
        state = _launch(opts, spec, bundle, rootfs_path, cdir)
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


def _namespace_plan(spec: Spec) -> tuple[tuple, int, bool]:
    from pallet.linux import ns
    from pallet.runtime.process.init import JOIN_ORDER

    join = []
    flags = 0
    new_userns = False
    by_type = {n.type: n for n in spec.linux.namespaces}
    for kind in JOIN_ORDER:
        n = by_type.get(kind)
        if n is None:
            continue
        flag, procname = ns.NAMESPACES[kind]
        if n.path:
            join.append((kind, flag, n.path))
        elif kind == "user":
            new_userns = True
        else:
            flags |= flag
    return tuple(join), flags, new_userns


def _launch(opts: CreateOptions, spec: Spec, bundle: str, rootfs_path: str, cdir: str) -> st.ContainerState:
    from pallet.linux import ns
    from pallet.runtime import execstub, rootfs
    from pallet.runtime.process.init import InitConfig, preload, stage1

    linux = spec.linux
    preload(spec)
    minimum = 3 + opts.preserve_fds
    program = None
    if linux.seccomp:
        from pallet.runtime.seccomp import compile_filter

        program = compile_filter(linux.seccomp)
    join, unshare_flags, new_userns = _namespace_plan(spec)
    in_userns = new_userns or any(k == "user" for k, _, _ in join)
    plan = rootfs.plan(spec, bundle, no_pivot=opts.no_pivot, in_userns=in_userns)
    fds: list[int] = []
    sock = child_sock = None
    mgr = None
    stage1_pid = init_pid = None
    cgroup = None
    try:
        stub_fd = par.high_fd(execstub.open_stub(), minimum) if execstub.supported() else None
        if stub_fd is not None:
            fds.append(stub_fd)
        fifo = os.path.join(cdir, st.EXEC_FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # not the umask's: the init may write it as another (mapped) user
        dir_fd = par.high_fd(os.open(cdir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC), minimum)
        fds.append(dir_fd)
        console_fd = opts.console_fd
        if opts.console_socket:
            console_fd = par.high_fd(_connect(opts.console_socket), minimum)
            fds.append(console_fd)
        elif console_fd is not None:
            console_fd = par.high_fd(os.dup(console_fd), minimum)
            fds.append(console_fd)
        sock, child_sock = par.socketpair(minimum)
        # With a new cgroup ns, stage 1 must be in the cgroup before it unshares (the ns is rooted
        # there); otherwise the cgroup is made while stage 2 mounts, and stage 2 is placed before Setup.
        early_cgroup = bool(unshare_flags & ns.CLONE_NEWCGROUP)
        cfg = InitConfig(
            spec=spec, container_id=opts.id, plan=plan, sock=child_sock, state_dir_fd=dir_fd,
            stub_fd=stub_fd, console_fd=console_fd, preserve_fds=opts.preserve_fds,
            seccomp_program=program, join=join, unshare_flags=unshare_flags,
            new_userns=new_userns, lo_up=bool(unshare_flags & ns.CLONE_NEWNET), wait_go=early_cgroup,
        )
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
            stage1(cfg)
            os._exit(1)  # not reached
        child_sock.close()
        child_sock = None
        cgroup = _Cgroup(linux.cgroups_path, opts.id, linux.resources)
        if early_cgroup:
            cgroup.place(stage1_pid)
            sync.send(sock, sync.Go())
        init_pid = _drive(sock, spec, opts, stage1_pid, bundle, cgroup)
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
            config=_raw_config(bundle), cgroup=mgr.to_json() if mgr is not None else None,
        )
        st.save(opts.root, state)
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


def _raw_config(bundle: str) -> dict:
    from pallet.oci.runtime_spec import read_json_file

    return read_json_file(os.path.join(bundle, "config.json"), "config.json")


class _Cgroup:
    """The container's cgroup, made on first use (see the ordering note in _launch)."""

    def __init__(self, path: str | None, container_id: str, resources: dict | None):
        self.path = path
        self.id = container_id
        self.resources = resources
        self.mgr = None

    def place(self, pid: int) -> None:
        if self.mgr is None:
            from pallet.cgroups import open_manager

            mgr = open_manager(self.path, self.id)
            mgr.create()
            self.mgr = mgr
            mgr.add_pid(pid)
            if self.resources:
                for warning in mgr.apply(self.resources) or ():
                    os.write(2, f"pallet-runtime: warning: {warning}\n".encode())
        else:
            self.mgr.add_pid(pid)


def _connect(path: str) -> int:
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as exc:
        s.close()
        raise InvalidArgument(f"--console-socket {path}: {strerror(exc.errno)}") from None
    return s.detach()


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
            os.waitpid(stage1_pid, 0)
            cgroup.place(init_pid)
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
