"""The container's root filesystem: plan the mounts (pure), then apply them.

`plan(spec, bundle, ...)` returns a `RootfsPlan` value that unit tests
check without root. `prepare(plan)` runs in the container init inside its
new mount namespace, before pivot_root: every destination is resolved by
the kernel inside the rootfs (openat2 RESOLVE_IN_ROOT) and mounted through
/proc/self/fd/N, so a symlink in the image never sends a mount out of it
(CVE-2021-30465). `switch_root(plan)` pivots (old root detached) or, with
--no-pivot, moves and chroots. `finish(plan)` applies masked and
read-only paths and root.readonly once inside.
"""

from __future__ import annotations

import os
import stat

from pallet.linux._libc import strerror
from pallet.linux import mount as m
from pallet.linux.openat2 import open_in_root
from pallet.oci.runtime_spec import Spec
from pallet.values import frozen

# option -> (clear the flag?, flag); mount(8)'s names
FLAG_OPTIONS: dict[str, tuple[bool, int]] = {
    "defaults": (False, 0),
    "ro": (False, m.MS_RDONLY), "rw": (True, m.MS_RDONLY),
    "nosuid": (False, m.MS_NOSUID), "suid": (True, m.MS_NOSUID),
    "nodev": (False, m.MS_NODEV), "dev": (True, m.MS_NODEV),
    "noexec": (False, m.MS_NOEXEC), "exec": (True, m.MS_NOEXEC),
    "sync": (False, m.MS_SYNCHRONOUS), "async": (True, m.MS_SYNCHRONOUS),
    "dirsync": (False, m.MS_DIRSYNC),
    "remount": (False, m.MS_REMOUNT),
    "mand": (False, m.MS_MANDLOCK), "nomand": (True, m.MS_MANDLOCK),
    "noatime": (False, m.MS_NOATIME), "atime": (True, m.MS_NOATIME),
    "nodiratime": (False, m.MS_NODIRATIME), "diratime": (True, m.MS_NODIRATIME),
    "relatime": (False, m.MS_RELATIME), "norelatime": (True, m.MS_RELATIME),
    "strictatime": (False, m.MS_STRICTATIME), "nostrictatime": (True, m.MS_STRICTATIME),
    "lazytime": (False, m.MS_LAZYTIME), "nolazytime": (True, m.MS_LAZYTIME),
    "nosymfollow": (False, m.MS_NOSYMFOLLOW), "symfollow": (True, m.MS_NOSYMFOLLOW),
    "silent": (False, m.MS_SILENT), "loud": (True, m.MS_SILENT),
    "acl": (False, 1 << 16), "noacl": (True, 1 << 16),  # MS_POSIXACL
    "iversion": (False, 1 << 23), "noiversion": (True, 1 << 23),  # MS_I_VERSION
    "bind": (False, m.MS_BIND), "rbind": (False, m.MS_BIND | m.MS_REC),
}
PROPAGATION_OPTIONS: dict[str, int] = {
    "private": m.MS_PRIVATE, "rprivate": m.MS_PRIVATE | m.MS_REC,
    "shared": m.MS_SHARED, "rshared": m.MS_SHARED | m.MS_REC,
    "slave": m.MS_SLAVE, "rslave": m.MS_SLAVE | m.MS_REC,
    "unbindable": m.MS_UNBINDABLE, "runbindable": m.MS_UNBINDABLE | m.MS_REC,
}
# Options other runtimes define that change nothing here.
IGNORED_OPTIONS = frozenset({"tmpcopyup", "idmap", "ridmap", "copy-symlink", "recursive"})

# Flags the kernel locks on a mount seen from a less privileged user ns:
# a bind remount must repeat them or it fails with EPERM.
_STATVFS_LOCKED = {
    os.ST_RDONLY: m.MS_RDONLY, os.ST_NOSUID: m.MS_NOSUID, os.ST_NODEV: m.MS_NODEV,
    os.ST_NOEXEC: m.MS_NOEXEC, os.ST_NOATIME: m.MS_NOATIME, os.ST_NODIRATIME: m.MS_NODIRATIME,
    os.ST_RELATIME: m.MS_RELATIME,
}

# (path, major, minor): the devices every container gets (runtime spec "Default Devices")
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)
DEFAULT_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)
DEVICE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


@frozen
class MountStep:
    destination: str  # inside the container
    source: str | None
    fstype: str | None
    flags: int  # of the first mount(2)
    data: str | None
    remount_flags: int | None = None  # bind mounts: MS_BIND|MS_REMOUNT|these afterwards
    propagation: tuple[int, ...] = ()
    bind: bool = False
    cgroup: bool = False  # expanded when applied: depends on the host's hierarchies


@frozen
class DeviceNode:
    path: str
    type: str  # c, b, p
    major: int
    minor: int
    mode: int = 0o666
    uid: int = 0
    gid: int = 0


@frozen
class RootfsPlan:
    rootfs: str
    root_propagation: int
    mounts: tuple[MountStep, ...]
    devices: tuple[DeviceNode, ...]
    bind_devices: bool  # in a user ns mknod is refused: bind the host's node instead
    symlinks: tuple[tuple[str, str], ...]
    masked_paths: tuple[str, ...]
    readonly_paths: tuple[str, ...]
    readonly_root: bool
    no_pivot: bool
    # False when config.json asks for no mount namespace: the init then shares the host's, so
    # it mounts nothing (it would land on the host) and only chroots into the rootfs.
    mount_ns: bool = True
    # Mounted by prepare_late(), once the init is in its cgroup and cgroup ns: the cgroup hierarchies
    # (and what overlaps them); see expand_cgroup_mounts.
    late_mounts: tuple = ()
    host_cgroups: tuple | None = None  # _host_cgroup_mounts(), for a cgroup mount expanded late


def parse_options(options) -> tuple[int, tuple[int, ...], str | None]:
    """(flags, propagation flags, data) from a mount's option list."""
    flags = 0
    prop = []
    data = []
    for opt in options:
        if opt in FLAG_OPTIONS:
            clear, bit = FLAG_OPTIONS[opt]
            flags = flags & ~bit if clear else flags | bit
        elif opt in PROPAGATION_OPTIONS:
            prop.append(PROPAGATION_OPTIONS[opt])
        elif opt not in IGNORED_OPTIONS:
            data.append(opt)
    return flags, tuple(prop), ",".join(data) or None


def plan_mount(mnt, bundle: str) -> MountStep:
    flags, prop, data = parse_options(mnt.options)
    bind = mnt.type == "bind" or bool(flags & m.MS_BIND)
    if bind:
        flags |= m.MS_BIND
        source = mnt.source if mnt.source.startswith("/") else os.path.join(bundle, mnt.source)
        extra = flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
        return MountStep(
            destination=mnt.destination, source=source, fstype=None,
            flags=flags & (m.MS_BIND | m.MS_REC), data=None,
            remount_flags=extra or None, propagation=prop, bind=True,
        )
    return MountStep(
        destination=mnt.destination, source=mnt.source or mnt.type, fstype=mnt.type,
        flags=flags, data=data, propagation=prop, cgroup=mnt.type == "cgroup",
    )


def plan(spec: Spec, bundle: str, *, no_pivot: bool = False, in_userns: bool = False) -> RootfsPlan:
    linux = spec.linux
    rootfs = spec.root.path if spec.root.path.startswith("/") else os.path.join(bundle, spec.root.path)
    mounts = tuple(plan_mount(x, bundle) for x in spec.mounts)
    dev_bound = any(s.bind and s.destination.rstrip("/") == "/dev" for s in mounts)
    devices: dict[str, DeviceNode] = {}
    if not dev_bound:
        for path, major, minor in DEFAULT_DEVICES:
            devices[path] = DeviceNode(path=path, type="c", major=major, minor=minor)
    for d in linux.devices:
        devices[d.path] = DeviceNode(
            path=d.path, type="c" if d.type == "u" else d.type, major=d.major, minor=d.minor,
            mode=0o666 if d.file_mode is None else d.file_mode & 0o7777,
            uid=d.uid or 0, gid=d.gid or 0,
        )
    symlinks = () if dev_bound else DEFAULT_SYMLINKS
    return RootfsPlan(
        rootfs=rootfs,
        root_propagation=PROPAGATION_OPTIONS.get(linux.rootfs_propagation, m.MS_SLAVE | m.MS_REC),
        mounts=mounts,
        devices=tuple(devices.values()),
        bind_devices=in_userns,
        symlinks=symlinks,
        masked_paths=linux.masked_paths,
        readonly_paths=linux.readonly_paths,
        readonly_root=spec.root.readonly,
        no_pivot=no_pivot,
        mount_ns=linux.namespace("mount") is not None,
    )


# ---------------------------------------------------------------- apply


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def ensure(root_fd: int, path: str, is_dir: bool = True, _depth: int = 0) -> int:
    """O_PATH fd of `path` inside the root, creating it (mkdir -p, or an empty file) if missing.

    Each component is resolved by the kernel inside the root; a dangling
    symlink gets its target created inside the root too (as `mkdir -p`
    through the link would), never on the host.
    """
    try:
        return open_in_root(root_fd, path)
    except FileNotFoundError:
        pass
    if _depth > 40:
        raise OSError(40, f"{path}: too many levels of symbolic links")
    parts = [p for p in path.split("/") if p and p != "."]
    if len(parts) > 1:
        # The usual case, a mount point in an existing directory: its parent is open in one call.
        try:
            parent = open_in_root(root_fd, "/".join(parts[:-1]))
        except FileNotFoundError:
            parent = None
        if parent is not None:
            try:
                _make_in(root_fd, parent, parts, len(parts) - 1, is_dir, _depth)
            finally:
                os.close(parent)
            return open_in_root(root_fd, path)
    for i, part in enumerate(parts):
        prefix = "/".join(parts[: i + 1])
        last = i == len(parts) - 1
        try:
            fd = open_in_root(root_fd, prefix)
        except FileNotFoundError:
            parent = open_in_root(root_fd, "/".join(parts[:i]) or ".")
            try:
                _make_in(root_fd, parent, parts, i, is_dir or not last, _depth)
            finally:
                os.close(parent)
            fd = open_in_root(root_fd, prefix)
        if last:
            return fd
        os.close(fd)
    return open_in_root(root_fd, ".")


def _make_in(root_fd: int, parent: int, parts: list[str], i: int, is_dir: bool, depth: int) -> None:
    """Create parts[i] in `parent` (a directory, or an empty file when not `is_dir`); through a
    dangling symlink, create its target inside the root instead."""
    part = parts[i]
    try:
        if not is_dir:
            os.close(os.open(part, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent))
        else:
            os.mkdir(part, 0o755, dir_fd=parent)
        return
    except FileExistsError:  # a dangling symlink
        link = os.readlink(part, dir_fd=parent)
    target = link if link.startswith("/") else "/".join(parts[:i] + [link])
    os.close(ensure(root_fd, target, is_dir, depth + 1))


def _locked_flags(path: str) -> int:
    try:
        f = os.statvfs(path).f_flag
    except OSError:
        return 0
    return sum(flag for st, flag in _STATVFS_LOCKED.items() if f & st)


def _mount_step(root_fd: int, step: MountStep, host_cgroups: tuple | None = None) -> None:
    if step.cgroup:
        for sub in _cgroup_steps(step, host=host_cgroups):
            if isinstance(sub, _CgroupLinks):
                _cgroup_links(root_fd, sub)
            else:
                _mount_step(root_fd, sub)
        return
    is_dir = True
    if step.bind:
        try:
            is_dir = stat.S_ISDIR(os.stat(step.source).st_mode)
        except OSError as exc:
            raise OSError(exc.errno, f"mount {step.source} on {step.destination}: {strerror(exc.errno)}") from None
    fd = ensure(root_fd, step.destination, is_dir)
    try:
        try:
            m.mount(step.source, _fd_path(fd), step.fstype, step.flags, step.data)
        except OSError as exc:
            if step.fstype == "sysfs" and exc.errno == 1:  # EPERM: a user ns without its own net ns
                m.mount("/sys", _fd_path(fd), None, m.MS_BIND | m.MS_REC)
                step = step.replace(remount_flags=step.flags | m.MS_RDONLY)
            else:
                raise _mount_error(step, exc) from None
    finally:
        os.close(fd)
    if step.remount_flags or step.propagation:
        fd = open_in_root(root_fd, step.destination)  # now the new mount's root
        try:
            target = _fd_path(fd)
            if step.remount_flags:
                flags = m.MS_BIND | m.MS_REMOUNT | step.remount_flags | _locked_flags(target)
                m.mount(None, target, None, flags)
            for p in step.propagation:
                m.mount(None, target, None, p)
        finally:
            os.close(fd)


def _mount_error(step: MountStep, exc: OSError) -> OSError:
    """Say the likely reason (ARCHITECTURE.md convention 8)."""
    hint = {
        19: f"the kernel has no {step.fstype} filesystem",  # ENODEV
        22: "bad options or source",  # EINVAL
        2: "the source does not exist",  # ENOENT
        1: "not permitted here (user namespace?)",  # EPERM
    }.get(exc.errno)
    what = f"mount {step.source} on {step.destination} ({step.fstype or 'bind'}): {strerror(exc.errno)}"
    return OSError(exc.errno, f"{what} ({hint})" if hint else what)


def _read_mountinfo() -> list[tuple[str, str, str, str]]:
    """(root, mountpoint, fstype, super options) of every mount."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, right = line.split(" - ", 1)
            fields = left.split()
            fstype, _source, superopts = right.split()[:3]
            out.append((fields[3], fields[4], fstype, superopts))
    return out


def _host_cgroup_mounts() -> tuple[list[tuple[str, set[str]]], str | None]:
    """[(v1 mountpoint, its controllers)] and the cgroup2 mountpoint, as pallet.cgroups finds them
    without mountinfo, whose read costs ms (the kernel formats every mount of the host)."""
    from pallet.cgroups.hierarchy import layout

    found = layout("/sys/fs/cgroup")
    if found is None:
        mounts = _read_mountinfo()
        return ([(mp, set(so.split(","))) for _, mp, fs, so in mounts if fs == "cgroup"],
                next((mp for _, mp, fs, _ in mounts if fs == "cgroup2"), None))
    mode, v1, unified = found
    return [(mp, set(c)) for mp, c in v1.items()], ("/sys/fs/cgroup" if mode == "v2" else unified)


def expand_cgroup_mounts(p: RootfsPlan, *, cgroupns: bool) -> RootfsPlan:
    """`p` with its `cgroup` mounts moved to `late_mounts`: the init makes every other mount, its
    device nodes and links before it is in its cgroup (while the parent makes it), and only the
    cgroup mounts after. A mount after a cgroup one goes late too if the two paths overlap (one
    contains the other), so their order holds; if a device node or link overlaps, nothing moves.

    `cgroupns`: the init gets a cgroup ns of its own (new, rooted at the container's cgroup); which
    hierarchies, and so which mounts, then does not depend on where the init is, only that it is at
    the root of its ns, and they are expanded for this host now (by the parent, before fork).
    Otherwise they bind the init's own cgroup dirs and are expanded once it joined them."""
    if not p.mount_ns or not any(isinstance(s, MountStep) and s.cgroup for s in p.mounts):
        return p
    host = _host_cgroup_mounts()
    early: list = []
    late: list = []
    for step in p.mounts:
        if isinstance(step, MountStep) and step.cgroup:
            late.extend(_cgroup_steps(step, cgroupns=True, host=host) if cgroupns else (step,))
        elif late and _overlaps(step.destination, late):
            late.append(step)
        else:
            early.append(step)
    others = [d.path for d in p.devices] + [path for _, path in p.symlinks] + ["/dev/core"]
    if any(_overlaps(path, late) for path in others):
        return p
    return p.replace(mounts=tuple(early), late_mounts=tuple(late), host_cgroups=host)


def mounts_before_join(p: RootfsPlan) -> bool:
    """Whether prepare(p) may run before the init is in its cgroup: no cgroup mount left in it."""
    return not any(isinstance(s, MountStep) and s.cgroup for s in p.mounts)


def _overlaps(path: str, steps: list) -> bool:
    a = path.rstrip("/") + "/"
    for step in steps:
        b = (step.dest if isinstance(step, _CgroupLinks) else step.destination).rstrip("/") + "/"
        if a.startswith(b) or b.startswith(a):
            return True
    return False


def _cgroup_steps(step: MountStep, cgroupns: bool | None = None, host: tuple | None = None) -> list:
    """Expand a `cgroup` mount for this host: cgroup2 alone, or a tmpfs of v1 hierarchies (+ unified).
    `host`: _host_cgroup_mounts(), found already."""
    if cgroupns is None:
        cgroupns = os.readlink("/proc/self/ns/cgroup") != os.readlink("/proc/1/ns/cgroup") if os.path.exists("/proc/1/ns/cgroup") else True
    v1_mounts, v2_mount = host if host is not None else _host_cgroup_mounts()
    dest = step.destination.rstrip("/")
    flags = step.flags & ~m.MS_RDONLY
    ro = step.flags & m.MS_RDONLY
    steps: list[MountStep] = []
    with open("/proc/self/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f if line.strip()]
    v1 = [(ctrls, path) for _, ctrls, path in lines if ctrls]
    v2 = [path for _, ctrls, path in lines if not ctrls]
    if not v1:  # pure cgroup v2
        if cgroupns:
            return [step.replace(source="cgroup", fstype="cgroup2", data=None, cgroup=False)]
        src = v2_mount + (v2[0] if v2 else "/")
        return [MountStep(destination=dest, source=src, fstype=None, flags=m.MS_BIND | m.MS_REC, data=None, remount_flags=step.flags or None, bind=True)]
    steps.append(MountStep(destination=dest, source="tmpfs", fstype="tmpfs", flags=flags, data="mode=755"))
    for ctrls, path in v1:
        wanted = set(ctrls.split(","))
        host = next((mp for mp, controllers in v1_mounts if wanted <= controllers), None)
        if host is None:
            continue
        name = os.path.basename(host)
        sub = f"{dest}/{name}"
        if cgroupns:
            data = ctrls if not ctrls.startswith("name=") else f"none,{ctrls}"
            steps.append(MountStep(destination=sub, source="cgroup", fstype="cgroup", flags=flags | ro, data=data))
        else:
            steps.append(MountStep(destination=sub, source=host + path, fstype=None, flags=m.MS_BIND | m.MS_REC, data=None, remount_flags=(flags | ro) or None, bind=True))
    # Hybrid hosts: like runc, the container sees the v1 hierarchies only; the unified
    # mount (hugetlb here, or nothing) is not part of its /sys/fs/cgroup.
    if v2_mount and v2 and not v1:
        sub = f"{dest}/{os.path.basename(v2_mount)}"
        if cgroupns:
            steps.append(MountStep(destination=sub, source="cgroup2", fstype="cgroup2", flags=flags | ro, data=None))
        else:
            steps.append(MountStep(destination=sub, source=v2_mount + v2[0], fstype=None, flags=m.MS_BIND | m.MS_REC, data=None, remount_flags=(flags | ro) or None, bind=True))
    return steps + [_CgroupLinks(dest=dest, ro=ro, flags=flags)]


@frozen
class _CgroupLinks:
    """After the v1 hierarchies: cpu -> cpu,cpuacct links, then the tmpfs goes read-only."""

    dest: str
    ro: int
    flags: int


def _cgroup_links(root_fd: int, step: _CgroupLinks) -> None:
    fd = open_in_root(root_fd, step.dest)
    try:
        for name in os.listdir(_fd_path(fd)):
            if "," in name:
                for ctrl in name.split(","):
                    try:
                        os.symlink(name, ctrl, dir_fd=fd)
                    except FileExistsError:
                        pass
        if step.ro:
            m.mount(None, _fd_path(fd), None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | step.flags)
    finally:
        os.close(fd)


class _Parents:
    """O_PATH fds of the directories device nodes and links go in (/dev for all of them, usually):
    each resolved and made once. Nothing is mounted meanwhile, so they stay the right ones."""

    def __init__(self, root_fd: int):
        self.root_fd = root_fd
        self.fds: dict[str, int] = {}

    def split(self, path: str) -> tuple[int, str]:
        parent, name = os.path.split(path.rstrip("/"))
        parent = parent or "/"
        fd = self.fds.get(parent)
        if fd is None:
            fd = self.fds[parent] = ensure(self.root_fd, parent)
        return fd, name

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()


def _make_device(root_fd: int, dev: DeviceNode, bind: bool, parents: _Parents) -> None:
    parent, name = parents.split(dev.path)
    try:
        os.unlink(name, dir_fd=parent)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        raise OSError(21, f"device {dev.path}: a directory is in the way") from None
    if bind:
        os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=parent))
        fd = open_in_root(root_fd, dev.path)
        try:
            m.mount(dev.path, _fd_path(fd), None, m.MS_BIND)
        finally:
            os.close(fd)
        return
    try:
        os.mknod(name, DEVICE_TYPES[dev.type] | dev.mode, os.makedev(dev.major, dev.minor), dir_fd=parent)
    except OSError as exc:
        raise OSError(exc.errno, f"mknod {dev.path}: {strerror(exc.errno)}") from None
    os.chown(name, dev.uid, dev.gid, dir_fd=parent, follow_symlinks=False)


def _symlink(target: str, path: str, parents: _Parents) -> None:
    parent, name = parents.split(path)
    try:
        os.symlink(target, name, dir_fd=parent)
    except FileExistsError:
        pass


def prepare(p: RootfsPlan) -> int:
    """Mount everything under the rootfs (before pivot_root); return an O_PATH fd of the rootfs."""
    if not p.mount_ns:
        return os.open(p.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    # An unbindable tree cannot be bind-mounted: private until the switch, which applies it.
    unbindable = p.root_propagation & m.MS_UNBINDABLE
    m.mount(None, "/", None, (m.MS_PRIVATE | m.MS_REC) if unbindable else p.root_propagation)
    if p.root_propagation & m.MS_SHARED:
        _make_parent_private(p.rootfs)
    # pivot_root needs the new root to be a mount point
    m.mount(p.rootfs, p.rootfs, None, m.MS_BIND | m.MS_REC)
    root_fd = os.open(p.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    old_umask = os.umask(0)
    parents = _Parents(root_fd)
    try:
        for step in p.mounts:
            _mount_step(root_fd, step)
        for dev in p.devices:
            _make_device(root_fd, dev, p.bind_devices, parents)
        for target, path in p.symlinks:
            _symlink(target, path, parents)
        if p.symlinks and os.path.exists("/proc/kcore"):
            _symlink("/proc/kcore", "/dev/core", parents)
    finally:
        parents.close()
        os.umask(old_umask)
    return root_fd


def prepare_late(p: RootfsPlan, root_fd: int) -> None:
    """The mounts expand_cgroup_mounts left for after the cgroup join, under the rootfs."""
    if not p.late_mounts:
        return
    old_umask = os.umask(0)
    try:
        for step in p.late_mounts:
            if isinstance(step, _CgroupLinks):
                _cgroup_links(root_fd, step)
            else:
                _mount_step(root_fd, step, p.host_cgroups)
    finally:
        os.umask(old_umask)


def _make_parent_private(rootfs: str) -> None:
    best = "/"
    for _, mp, _, _ in _read_mountinfo():
        if (rootfs + "/").startswith(mp.rstrip("/") + "/") and len(mp) > len(best) and mp != rootfs:
            best = mp
    m.mount(None, best, None, m.MS_PRIVATE)


def switch_root(p: RootfsPlan, root_fd: int) -> None:
    """pivot_root into the rootfs and detach the old root; or MS_MOVE + chroot with --no-pivot."""
    os.fchdir(root_fd)
    if not p.mount_ns:
        os.chroot(".")
    elif p.no_pivot:
        m.mount(p.rootfs, "/", None, m.MS_MOVE)
        os.chroot(".")
    else:
        old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        try:
            m.pivot_root(".", ".")
            # The old root is stacked on "."; the cwd is still the new root's directory under it. Step onto the
            # old root (as runc) so MS_SLAVE reaches it, not the container's mounts (an rshared bind stays shared).
            os.fchdir(old_root)
        finally:
            os.close(old_root)
        # A slave, so detaching it never reaches the host.
        m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
        m.umount2(".", m.MNT_DETACH)
    # CVE-2024-21626: the cwd must be inside the new root, never a host directory.
    os.chdir("/")
    if p.mount_ns and p.root_propagation & (m.MS_SHARED | m.MS_UNBINDABLE):
        # The new root is a bind of a private parent, and pivot_root refuses a shared one:
        # rootfsPropagation reaches "/" only now (runc does the same).
        m.mount(None, "/", None, p.root_propagation)


def mask_path(path: str) -> None:
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISDIR(st.st_mode):
        m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY)
    else:
        m.mount("/dev/null", path, None, m.MS_BIND)


def readonly_path(path: str) -> None:
    try:
        m.mount(path, path, None, m.MS_BIND | m.MS_REC)
    except FileNotFoundError:
        return
    m.mount(None, path, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | _locked_flags(path))


def finish(p: RootfsPlan) -> None:
    """Inside the new root: read-only and masked paths, then a read-only root."""
    if not p.mount_ns:
        return  # create refuses these without a mount namespace
    for path in p.readonly_paths:
        readonly_path(path)
    for path in p.masked_paths:
        mask_path(path)
    if p.readonly_root:
        m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | _locked_flags("/"))
