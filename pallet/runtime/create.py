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
    seccomp_cache: str | None = None  # keep compiled seccomp programs here across processes (root-only dir)

    def __post_init__(self):
        st.validate_id(self.id)
        if self.preserve_fds < 0:
            raise InvalidArgument("--preserve-fds must not be negative")


def check_spec(spec: Spec, opts: CreateOptions) -> None:
    """Refuse, before forking, what the init would fail at later."""
    if spec.process is None:
        raise InvalidArgument("config.json: process: is required")
    linux = spec.linux
    kinds = {n.type for n in linux.namespaces}
    if spec.hostname and "uts" not in kinds:
        raise InvalidArgument("config.json: hostname: needs a new UTS namespace (linux.namespaces)")
    if spec.domainname and "uts" not in kinds:
        raise InvalidArgument("config.json: domainname: needs a new UTS namespace (linux.namespaces)")
    if "mount" not in kinds and (linux.masked_paths or linux.readonly_paths or spec.root.readonly):
        # Without its own mount namespace the container shares the host's: pallet then mounts
        # nothing (see rootfs.RootfsPlan.mount_ns), so it cannot hide or protect these paths.
        raise InvalidArgument("config.json: linux.namespaces: maskedPaths, readonlyPaths and root.readonly "
                              "need a mount namespace")
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
    if linux.sysctl:  # a sysctl outside the container's namespaces would change the host
        from pallet.runtime import sysctl

        sysctl.check(linux.sysctl, {n.type: n.path for n in linux.namespaces})
    # Limits and the cgroup path are checked here, not first in the cgroup code after the fork:
    # a bad value must fail before a state dir, a process or a cgroup exists.
    if linux.resources is not None:
        from pallet.oci.resources import LinuxResources

        LinuxResources.from_json(linux.resources)
    from pallet.cgroups.paths import resolve

    resolve(linux.cgroups_path, opts.id)


def grantable_capabilities(spec: Spec, container_id: str) -> Spec:
    """The spec without the capabilities this runtime cannot grant, each named in a warning.

    Runtime spec (config.md, Linux process): a capability that cannot be mapped to a kernel
    interface, or cannot be granted otherwise, MUST be logged as a warning, and runtimes SHOULD
    NOT fail for it (a restricted host, like one whose bounding set lacks CAP_SYS_RESOURCE).
    The container then gets fewer capabilities than asked, never more.
    """
    caps = spec.process.capabilities
    if caps is None:
        return spec
    from pallet.linux.capnames import CAPS

    bounding = _own_bounding_set()
    changes = {}
    for key in caps.__fields__:
        names = getattr(caps, key)
        keep = tuple(n for n in names if n in CAPS and bounding >> CAPS[n] & 1)
        if len(keep) != len(names):
            changes[key] = keep
            for name in names:
                if name not in CAPS:
                    why = "unknown capability"
                elif name not in keep:
                    why = "not in pallet-runtime's own bounding set"
                else:
                    continue
                os.write(2, f"pallet-runtime: warning: container {container_id}: process.capabilities.{key}: "
                            f"ignoring {name} ({why})\n".encode())
    if not changes:
        return spec
    return spec.replace(process=spec.process.replace(capabilities=caps.replace(**changes)))


def _own_bounding_set() -> int:
    with open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"CapBnd:"):
                return int(line.split()[1], 16)
    return (1 << 64) - 1


def create(opts: CreateOptions) -> st.ContainerState:
    mark("create")
    bundle = os.path.abspath(opts.bundle)
    if not os.path.isdir(bundle):
        raise NotFound(f"bundle {bundle}: no such directory")
    raw = read_json_file(os.path.join(bundle, "config.json"), "config.json")
    spec = Spec.from_json(raw)
    check_spec(spec, opts)
    spec = grantable_capabilities(spec, opts.id)
    rootfs_path = spec.root.path if spec.root.path.startswith("/") else os.path.join(bundle, spec.root.path)
    if not os.path.isdir(rootfs_path):
        raise InvalidArgument(f"config.json: root.path: {rootfs_path}: no such directory")
    mark("spec read")
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
    st.write_atomic(path, str(pid).encode(), 0o644, durable=False)  # a live process's pid: see write_atomic


def _rmtree(path: str) -> None:
    st.remove_tree(path)


def _launch(opts: CreateOptions, spec: Spec, raw: dict, bundle: str, rootfs_path: str, cdir: str) -> st.ContainerState:
    linux = spec.linux
    minimum = 3 + opts.preserve_fds
    program = None
    if spec.hooks is not None:
        import pallet.runtime.hooks  # noqa: F401  (the parent runs prestart/createRuntime)
    fds: list[int] = []
    sock = child_sock = None
    mgr = None
    stage1_pid = init_pid = None
    cgroup = None
    try:
        mark("launch")
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
        flags = _direct_clone_flags(linux)
        from pallet.runtime.process import init

        try:
            cfg = init.init_config(child, direct=flags is not None)
        except OSError as exc:
            raise par.ContainerError(f"container {opts.id}: {init.describe(exc)}") from None
        if cfg.stub_fd is not None:
            fds.append(cfg.stub_fd)
        mark("init config")
        cgroup = _Cgroup(linux.cgroups_path, opts.id, linux.resources)
        mark("fork stage 1" if flags is None else "clone init")
        if flags is None:
            stage1_pid = os.fork()
        else:
            stage1_pid = init_pid = cgroup.clone_init(flags)
        if stage1_pid == 0:
            try:
                sock.close()
                if opts.stdio is not None:
                    for target, fd in enumerate(opts.stdio):
                        if fd != target:
                            os.dup2(fd, target)
            except BaseException:
                os._exit(1)
            # Planned and imported above: the child only applies the plan (it mounts while the
            # parent makes the cgroup below).
            if flags is None:
                init.start_child(cfg)
            else:
                init.start_init(cfg)
            os._exit(1)  # not reached
        mark("cloned")
        child_sock.close()
        child_sock = None
        # Stage 1 waits for Go: meanwhile we become a subreaper (before stage 1 exits, so its orphan comes to us).
        # An init born by clone is our own child already.
        if opts.subreaper and init_pid is None:
            from pallet.linux.subreaper import set_child_subreaper

            set_child_subreaper(True)
        # Made, limits and device rules whole, while the child mounts (two CPUs, two workers; see
        # rootfs.expand_cgroup_mounts); it then joins itself where it can (v1: _Cgroup.self_join_files).
        cgroup.prepare()
        files = cgroup.self_join_files(two_stages=init_pid is None)
        if early_cgroup:
            cgroup.place(stage1_pid)
        mark("cgroup made")
        _send(sock, sync.Go(cgroup_files=files))  # the init may have failed already (early mounts)
        if linux.seccomp:
            # Compiled (or read from the cache) while the init mounts the cgroup hierarchies;
            # Setup brings it over.
            from pallet.runtime.seccomp import compile_filter

            program = compile_filter(linux.seccomp, cache_dir=opts.seccomp_cache)
            mark("seccomp")
        saved = None
        if init_pid is not None:  # born by clone: no stage 1, no Stage2Pid
            _placed(sock, spec, opts, bundle, cgroup, init_pid, program)
            # While the init sets itself up: written once it is Ready.
            saved = _state(opts, spec, raw, bundle, rootfs_path, init_pid, cgroup.mgr)
        init_pid = _drive(sock, spec, opts, stage1_pid, bundle, cgroup, init_pid or 0, program)
        mark("init ready")
        mgr = cgroup.mgr
        if saved is None:
            saved = _state(opts, spec, raw, bundle, rootfs_path, init_pid, mgr)
        state, data = saved
        info = st.proc_stat(init_pid)
        if info is None or info[1] != state.pid_start:
            raise par.ContainerError(f"container {opts.id}: init exited during create")
        st.save(opts.root, state, data)
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
        self.made = False
        self.joined: list[str] = []
        self.born = False  # the init was cloned into mgr.clone_dir()
        self.placed = False

    def open(self):
        if self.mgr is None:
            from pallet.cgroups import open_manager

            self.mgr = open_manager(self.path, self.id)
        return self.mgr

    def prepare(self) -> None:
        """Create the cgroup and write its limits while it is still empty: the device rules
        must be whole before stage 2 joins (it mknods), as runc orders it."""
        if self.made:
            return
        mgr = self.open()
        mgr.create()
        self.made = True
        # Always, even without linux.resources: the device rules (deny all, then runc's
        # default devices) are applied whatever the spec says, as runc does.
        for warning in mgr.apply(self.resources or {}) or ():
            os.write(2, f"pallet-runtime: warning: {warning}\n".encode())

    def self_join_files(self, two_stages: bool) -> list[str]:
        """What the init (or stage 1, before it forks the init) writes "0" to, to join itself.

        A v1 `tasks` write by the task itself skips the kernel's global threadgroup lock,
        whose RCU grace period costs a pid written to cgroup.procs ~10 ms here. Not for two
        stages with pids.limit 1: stage 1 and the init would be two tasks in it for a moment,
        and the fork would fail."""
        pids = (self.resources or {}).get("pids") or {}
        if two_stages and pids.get("limit") == 1:
            return []
        self.joined = self.mgr.self_join_files()
        return self.joined

    def place(self, pid: int) -> None:
        """Move `pid` into what it did not join itself and was not born in: with two stages on
        a hybrid host the cgroup2 mount (its grace period overlaps stage 2's mounts); on v2,
        everything."""
        self.prepare()
        self.mgr.add_pid(pid, skip_self_joined=bool(self.joined), skip_clone_dir=self.born)
        self.placed = True

    def clone_init(self, flags: int) -> int:
        """clone() the init with `flags`, into the cgroup's cgroup2 dir when there is one (made
        now, limits come before Go): born there, it needs no migration and no grace period."""
        from pallet.linux.clone import clone, clone_into_cgroup

        into = self.open().clone_dir()
        if into is None:
            return clone(flags)
        fd = os.open(into, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            pid = clone_into_cgroup(flags, fd)
        except OSError as exc:
            if exc.errno not in (22, 38, 7):  # EINVAL, ENOSYS, E2BIG: a kernel before 5.7
                raise
            return clone(flags)
        finally:
            os.close(fd)  # the child's copy too: it execs or exits, and O_CLOEXEC anyway
        self.born = True
        return pid


def _direct_clone_flags(linux) -> int | None:
    """The CLONE_NEW* flags to clone the init with directly, or None when it takes two stages.

    Two stages (fork stage 1; it joins and unshares, then forks the init) when a namespace is
    joined by path (they are joined in order, pid's only applies to children), with a user
    namespace (the others must be made after it, once the parent wrote its maps), or a time
    namespace (clone(2) can't make one). A new cgroup ns is unshared by the init itself, once
    it joined the cgroup the ns is rooted at."""
    from pallet.linux.clone import NAMESPACES, supported

    if not supported():
        return None
    flags = 0
    for n in linux.namespaces:
        if n.path or n.type in ("user", "time"):
            return None
        if n.type != "cgroup":
            flags |= NAMESPACES[n.type][0]
    return flags


def _state(opts: CreateOptions, spec: Spec, raw: dict, bundle: str, rootfs_path: str, init_pid: int,
           mgr) -> tuple[st.ContainerState, bytes]:
    """The state to save once the init is ready, and its encoding (the caller checks the init is
    still the process it was: a failed init's own error comes through the sync socket first)."""
    info = st.proc_stat(init_pid)
    import pwd

    try:
        owner = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        owner = str(os.geteuid())
    state = st.ContainerState(
        id=opts.id, pid=init_pid, pid_start=info[1] if info else 0, bundle=bundle, rootfs=rootfs_path,
        created=st.now_rfc3339(), owner=owner, annotations=dict(spec.annotations),
        config=raw, cgroup=mgr.to_json() if mgr is not None else None,
    )
    return state, st.encode(state)


def _placed(sock, spec: Spec, opts: CreateOptions, bundle: str, cgroup: _Cgroup, init_pid: int, program) -> None:
    """Put the init in what it does not join itself (while it mounts), then send Setup."""
    if not cgroup.placed:
        cgroup.place(init_pid)
    mark("cgroup placed")
    setup = sync.Setup(state=_hook_state(opts, bundle, spec, init_pid))
    if program is not None:
        setup = setup.replace(seccomp=program.bpf.hex(), seccomp_flags=program.flags)
    _send(sock, setup)


def _drive(sock, spec: Spec, opts: CreateOptions, stage1_pid: int, bundle: str, cgroup: _Cgroup,
           init_pid: int = 0, program=None) -> int:
    """Answer the init's requests until it is Ready; return its pid."""
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
            from pallet.runtime.userns import write_maps

            write_maps(stage1_pid, spec.linux.uid_mappings, spec.linux.gid_mappings)
            _send(sock, sync.IdMapsDone())
        elif isinstance(msg, sync.Stage2Pid):
            init_pid = msg.pid
            mark("stage 2 pid received")
            os.waitpid(stage1_pid, 0)
            _placed(sock, spec, opts, bundle, cgroup, init_pid, program)
        elif isinstance(msg, sync.RunHooks):
            from pallet.runtime.hooks import run_hooks

            state = _hook_state(opts, bundle, spec, init_pid)
            try:
                # prestart keeps its runtime-spec 1.0 contract, "after start, before the program":
                # its state says created (as crun's; runtime-tools checks it). createRuntime: creating.
                run_hooks("prestart", spec.hooks.get("prestart"), {**state, "status": st.CREATED})
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
