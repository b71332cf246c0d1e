"""A container's filesystem from the host: cp, diff, container prune (mount, unmount, export and commit
are pallet.engine.fsops').

Paths inside a container are resolved by the kernel (openat2 RESOLVE_IN_ROOT on
the merged dir), never joined as strings: a symlink in the container pointing
at /etc means the container's /etc, not the host's. Once a directory is open,
the rest of the work goes through `/proc/<pid>/fd/<n>` (that exact directory)
and one path component, so no later lookup can leave it.

cp follows Docker's rules (docker cp --help):

    SRC file  -> DEST missing: written as DEST (DEST/ must then exist: error)
              -> DEST file: overwritten;  DEST dir: DEST/basename(SRC)
    SRC dir   -> DEST missing: created with SRC's content
              -> DEST file: error;  DEST dir: DEST/basename(SRC), or SRC's
                 content when SRC ends with "/."
    "-" as SRC: a tar on stdin, unpacked into the DEST directory;
    "-" as DEST: a tar of SRC on stdout.

The bytes travel as a tar stream between two GNU tars (archive semantics:
modes, times, links, devices); ownership is the destination user's (root)
unless `-a` keeps the source's uid/gid, as Docker. A tar from stdin is unpacked
first into an empty staging dir through the store's guarded extractor
(pallet.store.layer.apply_tar), then copied in like a host directory.

A stopped container's rootfs is mounted for the time of the copy (under the
container's lock, so a `start` waits) and unmounted again; a running one, or
one mounted by `pallet mount`, is used where it is.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass

from pallet.engine import containers, rootfs
from pallet.engine.filters import parse_filters
from pallet.engine.containers import ACTIVE, ContainerState
from pallet.errors import InvalidArgument, NotFound, PalletError, WrongState

TAR_CREATE = ["tar", "--numeric-owner", "--no-acls", "--no-selinux", "-c", "-f", "-"]
TAR_EXTRACT = ["tar", "--numeric-owner", "--no-acls", "--no-selinux", "-x", "-f", "-"]
OWNER_FLAGS = {True: ["--same-owner"], False: ["--no-same-owner"]}  # -a keeps the source's uid/gid


# ---------------------------------------------------------------- the container's rootfs


def is_mounted(env, st: ContainerState) -> bool:
    if not st.row.snapshot:
        return True  # a --rootfs dir is always there
    return rootfs._is_mountpoint(rootfs.merged_dir(env, st.id))


@contextmanager
def rootfs_of(env, st: ContainerState):
    """The container's merged dir for the length of the block (mounted just for it if it was not)."""
    with containers.locked(env, st.id):
        containers.sync_one(env, st.id)
        st = containers.load(env, st.id)
        if st.status == "removing":
            raise WrongState(f"container {st.name} is being removed")
        was = is_mounted(env, st)
        path = rootfs.mount(env, st.row)
        try:
            yield path
        finally:
            if not was:
                rootfs.unmount(env, st.row)


# ---------------------------------------------------------------- resolving paths


def fd_path(fd: int) -> str:
    """A path naming exactly the open directory `fd`, usable by a child process too."""
    return f"/proc/{os.getpid()}/fd/{fd}"


@dataclass
class Endpoint:
    """One side of a copy, resolved.

    The object is `member` of directory `cdir` (what tar -C/-c takes): "./NAME", or "." for a directory's
    content (SRC "dir/." or "/"). `label` is the name it gets when copied into a directory; `dir_path`
    names the object itself when it is a directory (a destination to unpack into). `deref`: the member is
    a magic link to a file followed with -L (tar -h).
    """

    cdir: str
    member: str
    label: str
    exists: bool
    is_dir: bool
    trailing_slash: bool
    contents: bool
    shown: str
    dir_path: str = ""
    deref: bool = False
    fds: tuple[int, ...] = ()

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)


def _split(path: str) -> tuple[str, str, bool, bool]:
    """(parent, last component, trailing slash, contents) of a user's path; name "" means the root or "."."""
    contents = path.endswith("/.") or path in (".", "/")
    trailing = path.endswith("/") or contents
    p = path.rstrip("/")
    if path.endswith("/."):
        p = p[:-2].rstrip("/")
    elif p == ".":
        p = ""
    parent, slash, name = p.rpartition("/")
    if not slash:
        parent = ""
    elif not parent:
        parent = "/"
    return parent, name, trailing, contents


def container_endpoint(merged: str, path: str, *, follow: bool, dest: bool = False) -> Endpoint:
    """Resolve `path` inside the container: directories by the kernel in the root (RESOLVE_IN_ROOT), the last
    component as is, or followed in the root too with `follow`."""
    from pallet.linux.openat2 import open_in_root

    if not path.startswith("/"):
        path = "/" + path  # docker cp: container paths are relative to its root
    parent, name, trailing, contents = _split(path)
    rootfd = os.open(merged, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    fds = [rootfd]

    def opened(p: str, flags: int = 0) -> int | None:
        try:
            fd = open_in_root(rootfd, p, os.O_PATH | os.O_CLOEXEC | flags)
        except (FileNotFoundError, NotADirectoryError):
            return None
        fds.append(fd)
        return fd

    try:
        full = (parent.rstrip("/") + "/" + name) if name else (parent or "/")
        if not name or contents:
            fd = opened(full, os.O_DIRECTORY)
            if fd is None:
                if opened(full) is not None:
                    raise InvalidArgument(f"{path}: not a directory")
                return Endpoint("", "", name, False, False, trailing, contents, path, fds=tuple(fds))
            return Endpoint(fd_path(fd), ".", name or "", True, True, trailing, True, path, dir_path=fd_path(fd),
                            fds=tuple(fds))
        pfd = opened(parent or "/", os.O_DIRECTORY)
        if pfd is None:
            raise NotFound(f"could not find the file {path} in the container")
        try:
            lst = os.lstat(name, dir_fd=pfd)
        except FileNotFoundError:
            return Endpoint(fd_path(pfd), "./" + name, name, False, False, trailing, False, path, fds=tuple(fds))
        if stat.S_ISLNK(lst.st_mode) and trailing and not follow:
            # Docker resolves "LINK/" inside the container: the slash names the directory the link points at
            fd = opened(full, os.O_DIRECTORY)
            if fd is None:
                raise InvalidArgument(f"{path}: not a directory")
            return Endpoint(fd_path(fd), ".", name, True, True, trailing, False, path, dir_path=fd_path(fd),
                            fds=tuple(fds))
        if stat.S_ISLNK(lst.st_mode) and follow:
            fd = opened(full)
            if fd is None:  # a dangling link: the name is free to write to, as Docker
                return Endpoint(fd_path(pfd), "./" + name, name, False, False, trailing, False, path, fds=tuple(fds))
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                return Endpoint(fd_path(fd), ".", name, True, True, trailing, False, path, dir_path=fd_path(fd),
                                fds=tuple(fds))
            if dest:  # a link to a file as the destination: the file replaces the link
                return Endpoint(fd_path(pfd), "./" + name, name, True, False, trailing, False, path, fds=tuple(fds))
            return Endpoint(f"/proc/{os.getpid()}/fd", str(fd), name, True, False, trailing, False, path, deref=True,
                            fds=tuple(fds))
        dir_path = ""
        if stat.S_ISDIR(lst.st_mode):  # held open: a swap for a symlink in a running container can't redirect us
            dfd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            fds.append(dfd)
            dir_path = fd_path(dfd)
        return Endpoint(fd_path(pfd), "./" + name, name, True, bool(dir_path), trailing, False, path,
                        dir_path=dir_path, fds=tuple(fds))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def mount_points(env, st: ContainerState) -> list[tuple[str, str]]:
    """(destination, host source) of what is mounted over the container's rootfs that the host can reach:
    its binds and volumes, and the engine's /etc files; longest destination first. (tmpfs mounts live only
    in the container's mount namespace: Docker can't copy them either.)"""
    import posixpath

    out = [(posixpath.normpath(m.destination), src)
           for m, src in zip(st.config.mounts, containers.mount_sources(env, st.config))
           if m.type in ("bind", "volume") and src]
    for name in ("hostname", "hosts", "resolv.conf"):
        src = os.path.join(env.container_dir(st.id), name)
        if os.path.exists(src):
            out.append(("/etc/" + name, src))
    return sorted(out, key=lambda t: -len(t[0]))


def container_side(env, st: ContainerState, merged: str, path: str, *, follow: bool, dest: bool = False) -> Endpoint:
    """`path` in the container as its processes see it: inside a bind mount or volume, resolved in the
    mount's source (its own root); elsewhere in the merged rootfs."""
    import posixpath

    suffix = "/." if path.endswith("/.") else ("/" if path.endswith("/") else "")
    norm = posixpath.normpath("/" + path.lstrip("/"))
    for dst, src in mount_points(env, st):
        if norm != dst and not norm.startswith(dst.rstrip("/") + "/"):
            continue
        rest = norm[len(dst):].lstrip("/")
        if rest:
            return container_endpoint(src, "/" + rest + suffix, follow=follow, dest=dest)
        is_dir = os.path.isdir(src)
        if suffix == "/." and is_dir:
            return Endpoint(src, ".", os.path.basename(dst), True, True, True, True, path, dir_path=src)
        if is_dir:  # the mount point itself, under its name in the container
            return Endpoint(src, ".", os.path.basename(dst), True, True, bool(suffix), False, path, dir_path=src)
        return Endpoint(os.path.dirname(src), "./" + os.path.basename(src), os.path.basename(dst), True, False,
                        bool(suffix), False, path)
    return container_endpoint(merged, path, follow=follow, dest=dest)


def host_endpoint(path: str, *, follow: bool) -> Endpoint:
    """A host path: the user's own filesystem, looked up as given."""
    parent, name, trailing, contents = _split(path)
    parent = parent or ("/" if path.startswith("/") else ".")
    if not name or contents:
        full = os.path.join(parent, name) if name else parent
        if os.path.exists(full) and not os.path.isdir(full):
            raise InvalidArgument(f"{path}: not a directory")
        ok = os.path.isdir(full)
        return Endpoint(full, ".", os.path.basename(os.path.abspath(full)), ok, ok, trailing, True, path, dir_path=full)
    full = os.path.join(parent, name)
    try:
        st = os.stat(full) if follow else os.lstat(full)
    except FileNotFoundError:
        return Endpoint(parent, "./" + name, name, False, False, trailing, False, path)
    is_dir = stat.S_ISDIR(st.st_mode)
    if follow and os.path.islink(full) and not is_dir:
        return Endpoint(parent, "./" + name, name, True, False, trailing, False, path, deref=True)
    if follow and is_dir and os.path.islink(full):
        return Endpoint(full, ".", name, True, True, trailing, False, path, dir_path=full)
    return Endpoint(parent, "./" + name, name, True, is_dir, trailing, False, path, dir_path=full if is_dir else "")


# ---------------------------------------------------------------- the copy


@dataclass(frozen=True)
class CopyPlan:
    """Where the source lands: unpacked straight into `into` (its member name kept), or built in a staging
    dir beside the destination and renamed to `into`/`name`."""

    into: str
    name: str = ""      # "" : unpack straight into `into`
    as_dir: bool = False  # the source's content goes into a new directory `name`


def plan_copy(src: Endpoint, dst: Endpoint) -> CopyPlan:
    """Docker's cp rules as data; raises on its error cases."""
    if not src.exists:
        raise NotFound(f"no such file or directory: {src.shown}")
    if dst.exists and dst.is_dir:
        if src.contents or src.member == "./" + src.label:
            return CopyPlan(dst.dir_path)  # the content merged in, or the object under its own name
        return CopyPlan(dst.dir_path, src.label, as_dir=src.is_dir)  # a followed link: named after the link
    if src.is_dir and dst.exists:
        raise InvalidArgument(f"cannot copy a directory to a file: {dst.shown}")
    if not dst.exists and dst.trailing_slash and not src.is_dir:
        raise NotFound(f"destination directory {dst.shown} does not exist")
    if not dst.cdir or not dst.label:
        raise NotFound(f"destination directory of {dst.shown} does not exist")
    return CopyPlan(dst.cdir, dst.label, as_dir=src.is_dir)


def _pipe(create: list[str], extract: list[str], *, what: str) -> None:
    producer = subprocess.Popen(create, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    consumer = subprocess.run(extract, stdin=producer.stdout, capture_output=True)
    producer.stdout.close()
    perr = producer.stderr.read()
    producer.stderr.close()
    prc = producer.wait()
    if prc != 0 or consumer.returncode != 0:
        err = (consumer.stderr or perr).decode(errors="replace").strip().splitlines()
        raise PalletError(f"{what}: {err[-1] if err else 'tar failed'}")


def _create_argv(src: Endpoint) -> list[str]:
    return [*TAR_CREATE, *(["-h"] if src.deref else []), "-C", src.cdir, src.member]


def copy(src: Endpoint, dst: Endpoint, *, archive: bool) -> None:
    plan = plan_copy(src, dst)
    what = f"copying {src.shown} to {dst.shown}"
    extract = [*TAR_EXTRACT, *OWNER_FLAGS[archive]]
    if not plan.name:
        _pipe(_create_argv(src), [*extract, "-C", plan.into], what=what)
        return
    # built beside the destination (same filesystem), then renamed into place: a new name, or over a file
    pfd = os.open(plan.into, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    stage = os.path.join(fd_path(pfd), f".pallet-cp-{secrets.token_hex(6)}")
    try:
        os.mkdir(stage, 0o700)
        try:
            built = os.path.join(stage, "d")
            if plan.as_dir:
                os.mkdir(built)
                _pipe([*TAR_CREATE, "-C", src.dir_path, "."], [*extract, "-C", built], what=what)
                _copy_dir_meta(src.dir_path, built, archive)
            else:
                _pipe(_create_argv(src), [*extract, "-C", stage], what=what)
                member = src.member[2:] if src.member.startswith("./") else src.member
                os.rename(os.path.join(stage, member), built)
            try:
                os.rename(built, os.path.join(fd_path(pfd), plan.name))
            except OSError as exc:
                raise PalletError(f"{what}: {exc.strerror}") from None
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    finally:
        os.close(pfd)


def _copy_dir_meta(src_dir: str, dst_dir: str, archive: bool) -> None:
    """A directory made for a source's content takes the source dir's mode and times (and owner with -a)."""
    st = os.stat(src_dir)
    os.chmod(dst_dir, stat.S_IMODE(st.st_mode))
    if archive:
        os.chown(dst_dir, st.st_uid, st.st_gid)
    os.utime(dst_dir, ns=(st.st_atime_ns, st.st_mtime_ns))


def parse_cp_arg(arg: str) -> tuple[str, str]:
    """`CONTAINER:PATH` -> (container, path); a host path -> ("", path). Docker: a path with a "/" before the
    first ":" (or starting with "." or "/") is a host path."""
    if arg == "-":
        return "", "-"
    if arg.startswith(("/", ".")):
        return "", arg
    ref, colon, path = arg.partition(":")
    if not colon or "/" in ref:
        return "", arg
    if not ref:
        raise InvalidArgument(f"invalid copy argument {arg!r}: empty container name")
    return ref, path or "/"


def cp(env, src_arg: str, dst_arg: str, *, archive: bool = False, follow: bool = False,
       stdin=None, stdout=None) -> None:
    """`pallet cp`: one side must be a container path, the other a host path or "-"."""
    sref, spath = parse_cp_arg(src_arg)
    dref, dpath = parse_cp_arg(dst_arg)
    if bool(sref) == bool(dref):
        raise InvalidArgument("copying between containers is not supported" if sref
                              else "must specify at least one container source: CONTAINER:PATH")
    if sref:
        st = containers.get(env, sref)
        if dpath != "-":
            dst = host_endpoint(dpath, follow=True)
            if not dst.exists and not os.path.isdir(dst.cdir):
                raise NotFound(f"destination directory {dst.cdir} does not exist")
        with rootfs_of(env, st) as merged:
            src = container_side(env, st, merged, spath, follow=follow)
            try:
                if not src.exists:
                    raise NotFound(f"could not find the file {spath} in container {st.name}")
                if dpath == "-":
                    return stream_tar(_create_argv(src), stdout or sys.stdout.buffer, what=f"copying {spath}")
                copy(src, dst, archive=archive)
            finally:
                src.close()
        return
    st = containers.get(env, dref)
    if spath == "-":
        return _tar_in(env, st, dpath, stdin or sys.stdin.buffer)
    src = host_endpoint(spath, follow=follow)
    if not src.exists:
        raise NotFound(f"could not find the file {spath} on the host: no such file or directory")
    with rootfs_of(env, st) as merged:
        dst = container_side(env, st, merged, dpath, follow=True, dest=True)
        try:
            copy(src, dst, archive=archive)
        finally:
            dst.close()


def stream_tar(argv: list[str], out, *, what: str) -> None:
    """Run a tar -c and copy its output to `out`; a failure is one line naming `what`."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    shutil.copyfileobj(proc.stdout, out, 1 << 20)
    out.flush()
    err = proc.stderr.read().decode(errors="replace").strip()
    if proc.wait() != 0:
        raise PalletError(f"{what}: {err.splitlines()[-1] if err else 'tar failed'}")


def _tar_in(env, st: ContainerState, dpath: str, stream) -> None:
    """A tar on stdin, unpacked by the store's guarded extractor into an empty staging dir, then copied in
    with the archive's owners (it is an archive: Docker keeps them)."""
    from pallet.store.layer import apply_tar

    os.makedirs(env.root + "/tmp", exist_ok=True)
    stage = os.path.join(env.root, "tmp", f"{os.getpid()}-cp-{secrets.token_hex(4)}")
    try:
        with rootfs_of(env, st) as merged:
            dst = container_side(env, st, merged, dpath, follow=True)
            try:
                if not dst.exists or not dst.is_dir:
                    raise InvalidArgument(f"destination {dpath} must be an existing directory in the container "
                                          "for a tar on stdin")
                apply_tar(stream, stage, what="tar stream on stdin")
                copy(host_endpoint(stage + "/.", follow=True), dst, archive=True)
            finally:
                dst.close()
    finally:
        shutil.rmtree(stage, ignore_errors=True)


# ---------------------------------------------------------------- diff


def _snapshot(env, st: ContainerState, verb: str) -> str:
    if not st.row.snapshot:
        raise InvalidArgument(f"container {st.name} runs on a --rootfs directory, not an image: cannot {verb} it")
    return st.row.snapshot


# Files the engine bind-mounts over (pallet.engine.spec_plan): their empty targets in the upper dir are
# not the user's changes.
ENGINE_MOUNTPOINTS = frozenset({"etc/hostname", "etc/hosts", "etc/resolv.conf"})


@dataclass(frozen=True)
class Change:
    kind: str   # "A", "C" or "D"
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


def _lower_lookup(lowers: list[str], rel: str) -> os.stat_result | None:
    """What the image (lower layers, top first) has at `rel`, or None; every ancestor is lstat'ed and must be
    a real directory in the layer that provides it, so no symlink is ever followed."""
    parts = rel.split("/")
    for layer in lowers:
        cur = layer
        hidden = False
        for i, part in enumerate(parts):
            cur = os.path.join(cur, part)
            try:
                st = os.lstat(cur)
            except (FileNotFoundError, NotADirectoryError):
                break
            from pallet.store.layer import is_opaque, is_whiteout

            if is_whiteout(st):
                return None
            if i == len(parts) - 1:
                return st
            if not stat.S_ISDIR(st.st_mode):
                return None  # a file here hides everything below it in lower layers
            if is_opaque(cur):
                hidden = True
        if hidden:
            return None
    return None


def changes(upper: str, lowers: list[str]) -> list[Change]:
    """Docker's overlay changes: A (not in the image), C (replaced or its metadata changed), D (whiteout);
    the parent of an added or deleted path counts as changed."""
    from pallet.store.layer import is_opaque, is_whiteout

    out: list[Change] = []
    changed_dirs: set[str] = set()

    def note_parent(rel: str) -> None:
        parent = os.path.dirname(rel)
        if parent and parent not in changed_dirs:
            changed_dirs.add(parent)
            out.append(Change("C", "/" + parent))

    for dirpath, dirnames, filenames in os.walk(upper):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, upper)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in sorted(dirnames + filenames):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            lower = _lower_lookup(lowers, rel)
            if is_whiteout(st):
                if lower is not None:
                    note_parent(rel)
                    out.append(Change("D", "/" + rel))
                continue
            if rel in ENGINE_MOUNTPOINTS and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                continue  # the empty target of the engine's bind mount (Docker keeps these in its init layer)
            if lower is None:
                note_parent(rel)
                out.append(Change("A", "/" + rel))
                if stat.S_ISDIR(st.st_mode):
                    changed_dirs.add(rel)
                continue
            if stat.S_ISDIR(st.st_mode) and stat.S_ISDIR(lower.st_mode):
                opaque = is_opaque(full)
                same = st.st_mode == lower.st_mode and st.st_uid == lower.st_uid and st.st_gid == lower.st_gid
                moved = st.st_mtime_ns != lower.st_mtime_ns and not _only_engine_files(full, rel, lowers)
                if not opaque and same and not moved:
                    continue  # copied up for a child (or for the engine's mount targets), unchanged itself
                if rel not in changed_dirs:
                    changed_dirs.add(rel)
                    out.append(Change("C", "/" + rel))
                if opaque:  # a dir removed and made again: what the image had below is gone
                    for lname in _lower_names(lowers, rel):
                        if not os.path.lexists(os.path.join(full, lname)):
                            out.append(Change("D", f"/{rel}/{lname}"))
                continue
            out.append(Change("C", "/" + rel))
    order = {c.path: i for i, c in enumerate(out)}
    return sorted(out, key=lambda c: (c.path, order[c.path]))


def _only_engine_files(full: str, rel: str, lowers: list[str]) -> bool:
    """Did the upper dir `rel` get its new mtime from the engine's mount targets alone? Only adding or removing
    entries moves a dir's mtime: every entry of it that is neither the engine's nor already in the image
    (an addition) nor a whiteout (a removal) means the user changed it."""
    from pallet.store.layer import is_whiteout

    try:
        names = os.listdir(full)
    except OSError:
        return False
    engine = False
    for n in names:
        child = f"{rel}/{n}"
        if child in ENGINE_MOUNTPOINTS:
            engine = True
            continue
        if is_whiteout(os.lstat(os.path.join(full, n))) or _lower_lookup(lowers, child) is None:
            return False
    return engine


def _lower_names(lowers: list[str], rel: str) -> list[str]:
    names: set[str] = set()
    for layer in lowers:
        d = os.path.join(layer, rel)
        try:
            if os.path.islink(d) or not os.path.isdir(d):
                continue
            names.update(os.listdir(d))
        except OSError:
            continue
    return sorted(n for n in names if _lower_lookup(lowers, f"{rel}/{n}") is not None)


def diff(env, ref: str) -> list[Change]:
    st = containers.get(env, ref)
    key = _snapshot(env, st, "diff")
    sn = env.images.snapshotter
    return changes(sn.upper_dir(key), sn.layer_dirs(sn.parent_of(key)))


# ---------------------------------------------------------------- container prune


PRUNE_FILTERS = ("until", "label", "label!")


def _until(value: str) -> float:
    """An `until=` filter value (timestamp, RFC 3339 time or duration ago) as a unix time."""
    import calendar
    import time

    from pallet.engine.logs import parse_time

    ts = parse_time(value, "--filter until")  # RFC 3339, UTC
    whole, _, frac = ts.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def prune(env, filters: list[str] = ()) -> tuple[list[str], int]:
    """Remove every stopped (exited or created) container matching `filters`; (ids, bytes reclaimed)."""
    flt = parse_filters(filters, PRUNE_FILTERS)
    until = min((_until(v) for v in flt.get("until", ())), default=None)
    removed, freed = [], 0
    for st in containers.list_states(env):
        if st.status not in ("exited", "created"):
            continue
        labels = dict(st.config.labels)
        if until is not None and st.row.created >= until:
            continue
        if any(not _label_match(labels, v) for v in flt.get("label", ())):
            continue
        if any(_label_match(labels, v) for v in flt.get("label!", ())):
            continue
        size = 0
        if st.row.snapshot:
            try:
                size = env.images.snapshotter.usage(st.row.snapshot).size
            except PalletError:
                pass
        try:
            containers.remove(env, st.id, resolved=True)
        except PalletError:
            continue  # started meanwhile, or removed by someone else
        removed.append(st.id)
        freed += size
    return removed, freed


def _label_match(labels: dict, spec: str) -> bool:
    k, eq, v = spec.partition("=")
    return k in labels and (not eq or labels[k] == v)
