"""Snapshotters: each image layer unpacked once, keyed by chain ID; containers get a writable view.

Protocol (containerd's snapshots.Snapshotter, cut to what pallet uses)::

    has_layer(chain_id)                      -> bool
    add_layer(chain_id, parent, src, ...)    -> Applied   # unpack a tar once, atomically
    remove_layer(chain_id)
    prepare(key, parent_chain_id, size=None) -> [MountSpec]   # writable snapshot for a container
    mounts(key)                              -> [MountSpec]
    remove(key)
    usage(key_or_chain_id)                   -> Usage(bytes, inodes)
    upper_dir(key)                           -> the container's changes (for commit)
    layer_dirs(chain_id)                     -> diff dirs, top first (for squash / export)

On disk (overlay)::

    <root>/layers/<chain hex>/diff     the layer, overlay whiteouts inside
                             /parent   parent chain id ('' for a base layer)
                             /link     short name in l/
    <root>/l/<short>  -> ../layers/<hex>/diff   (short lowerdir= entries)
    <root>/active/<key>/{upper,work,parent}

A layer dir appears by rename(2) of a fully built staging dir, so a killed
unpack leaves only `.stage-<pid>-*` litter that `clean_stale()` removes.

Deep chains: the mount data is limited to one page (4096 bytes). Absolute
lowerdir paths are used while they fit; past that the spec switches to
`l/<short>` paths relative to the snapshotter root and sets `cwd`, and
`mount_spec()` chdirs there around mount(2) (Docker's overlay2 does the same).
"""

from __future__ import annotations

import errno
import os
import stat

from pallet.errors import AlreadyExists, InvalidArgument, NotFound, PalletError, Unavailable
from pallet.linux.rmtree import remove_tree
from pallet.oci import digest as _digest
from pallet.values import frozen

PAGE_LIMIT = 4096 - 1


class _LazyLayer:
    """pallet.store.layer imported on first use: listing images must not pay for tar machinery."""

    def __getattr__(self, name):
        from pallet.store import layer

        return getattr(layer, name)


_layer = _LazyLayer()
MAX_LOWER = 500  # overlayfs' own limit on the lower stack
_KEY_HEAD = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_KEY_CHARS = _KEY_HEAD | frozenset("_.-")


def _valid_key(key: str) -> bool:
    """[A-Za-z0-9][A-Za-z0-9_.-]{0,127} without `re` (~4 ms of every `run`)."""
    return 0 < len(key) <= 128 and key[0] in _KEY_HEAD and _KEY_CHARS.issuperset(key)


@frozen
class MountSpec:
    type: str
    source: str
    options: tuple[str, ...] = ()
    cwd: str = ""  # chdir here before mount(2): relative lowerdir paths

    def to_dict(self) -> dict:
        return {"type": self.type, "source": self.source, "options": list(self.options), "cwd": self.cwd}


@frozen
class Usage:
    size: int
    inodes: int


def dir_usage(path: str) -> Usage:
    """Bytes (allocated blocks) and inodes under `path`; hard links counted once."""
    size = inodes = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            it = os.scandir(d)
        except FileNotFoundError:
            continue
        with it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                    k = (st.st_dev, st.st_ino)
                    if k in seen:
                        continue
                    seen.add(k)
                size += st.st_blocks * 512
                inodes += 1
                if stat.S_ISDIR(st.st_mode):
                    stack.append(e.path)
    return Usage(size, inodes)


def _check_key(key: str) -> str:
    if not _valid_key(key or ""):
        raise InvalidArgument(f"invalid snapshot key {key!r}")
    return key


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


class OverlaySnapshotter:
    driver = "overlay"

    def __init__(self, root: str):
        self.root = root
        self.layers_dir = os.path.join(root, "layers")
        self.links_dir = os.path.join(root, "l")
        self.active_dir = os.path.join(root, "active")
        for d in (self.layers_dir, self.links_dir, self.active_dir):
            os.makedirs(d, exist_ok=True)

    # -- layers ------------------------------------------------------------
    def layer_path(self, chain_id: str) -> str:
        return os.path.join(self.layers_dir, _digest.hex_of(chain_id))

    def diff_dir(self, chain_id: str) -> str:
        return os.path.join(self.layer_path(chain_id), "diff")

    def has_layer(self, chain_id: str) -> bool:
        return os.path.isdir(self.diff_dir(chain_id))

    def has_split(self, chain_id: str) -> bool:
        return os.path.exists(os.path.join(self.layer_path(chain_id), "tar-split"))

    def open_split(self, chain_id: str, diff_id: str, size: int):
        """The layer's exact tar, rebuilt from its split record and its files (verified against diff_id)."""
        import io

        return io.BufferedReader(_layer.SplitReader(os.path.join(self.layer_path(chain_id), "tar-split"),
                                                    self.diff_dir(chain_id), diff_id, size), 1 << 20)

    def layer_parent(self, chain_id: str) -> str:
        return _read(os.path.join(self.layer_path(chain_id), "parent"))

    def chain(self, chain_id: str) -> list[str]:
        """Chain ids from `chain_id` down to the base layer (top first)."""
        out = []
        cur = chain_id
        while cur:
            if not self.has_layer(cur):
                raise NotFound(f"layer {cur} is not unpacked in the store")
            out.append(cur)
            cur = self.layer_parent(cur)
            if len(out) > MAX_LOWER:
                raise InvalidArgument(f"layer chain of {chain_id} is deeper than {MAX_LOWER} layers")
        return out

    def layer_dirs(self, chain_id: str) -> list[str]:
        return [self.diff_dir(c) for c in self.chain(chain_id)] if chain_id else []

    def add_layer(self, chain_id: str | None, parent: str, src, *, size=None, compression=None, blob_writer=None,
                  what: str = "layer", expected_diff_id: str = "", split: bool = True,
                  blob_only_if_compressed: bool = False) -> _layer.Applied:
        """Unpack the tar from `src` as layer `chain_id` on `parent`. Atomic; returns what was applied.

        With `chain_id=None` the chain id is computed from the diff id once known (import)."""
        if parent and not self.has_layer(parent):
            raise NotFound(f"{what}: parent layer {parent} is not in the store")
        stage = os.path.join(self.layers_dir, f".stage-{os.getpid()}-{os.urandom(6).hex()}")
        os.mkdir(stage, 0o700)
        try:
            split_path = os.path.join(stage, "tar-split") if split else ""
            applied = _layer.apply_tar(src, os.path.join(stage, "diff"), size=size, compression=compression,
                                       blob_writer=blob_writer, what=what, expected_diff_id=expected_diff_id,
                                       split_path=split_path, blob_only_if_compressed=blob_only_if_compressed)
            return self._commit_applied(stage, applied, split_path, chain_id, parent)
        finally:
            if os.path.exists(stage):
                _rmtree(stage)

    def add_layer_from_dir(self, chain_id: str, parent: str, build) -> None:
        """Create layer `chain_id` by calling build(diff_dir) into a staging dir (for squash)."""
        stage = os.path.join(self.layers_dir, f".stage-{os.getpid()}-{os.urandom(6).hex()}")
        os.mkdir(stage, 0o700)
        try:
            build(os.path.join(stage, "diff"))
            self._finish_stage(stage, chain_id, parent)
        finally:
            if os.path.exists(stage):
                _rmtree(stage)

    def _commit_applied(self, stage: str, applied, split_path: str, chain_id: str | None, parent: str):
        """A staged layer's last step: drop a tar-split that cannot rebuild the blob, name it, commit it."""
        if split_path and not applied.split_ok:
            os.unlink(split_path)
        self._finish_stage(stage, chain_of(parent, applied.diff_id) if chain_id is None else chain_id, parent)
        return applied

    def _finish_stage(self, stage: str, chain_id: str, parent: str) -> None:
        short = os.urandom(5).hex().upper()
        _write(os.path.join(stage, "parent"), parent)
        _write(os.path.join(stage, "link"), short)
        final = self.layer_path(chain_id)
        link = os.path.join(self.links_dir, short)
        os.symlink(os.path.join("..", "layers", os.path.basename(final), "diff"), link)
        try:
            os.rename(stage, final)
        except OSError as exc:
            os.unlink(link)
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                return  # another command unpacked the same layer first: same content
            raise

    def remove_layer(self, chain_id: str) -> None:
        path = self.layer_path(chain_id)
        short = _read(os.path.join(path, "link"))
        if not os.path.exists(path):
            return
        trash = os.path.join(self.layers_dir, f".stage-{os.getpid()}-rm-{os.urandom(4).hex()}")
        os.rename(path, trash)  # gone from view at once; the slow delete follows
        if short:
            try:
                os.unlink(os.path.join(self.links_dir, short))
            except FileNotFoundError:
                pass
        _rmtree(trash)

    def layers(self) -> list[str]:
        return ["sha256:" + n for n in os.listdir(self.layers_dir) if len(n) == 64]

    def clean_stale(self) -> int:
        """Remove staging dirs of dead processes and dangling l/ links."""
        n = 0
        for name in os.listdir(self.layers_dir):
            if name.startswith(".stage-"):
                pid = name.split("-")[1]
                if not (pid.isdigit() and _alive(int(pid))):
                    _rmtree(os.path.join(self.layers_dir, name))
                    n += 1
        for name in os.listdir(self.links_dir):
            p = os.path.join(self.links_dir, name)
            if not os.path.exists(p):
                os.unlink(p)
                n += 1
        return n

    # -- container snapshots -----------------------------------------------
    def _active(self, key: str) -> str:
        return os.path.join(self.active_dir, _check_key(key))

    def prepare(self, key: str, parent_chain_id: str, *, size: int | None = None) -> list[MountSpec]:
        """A writable snapshot on top of `parent_chain_id`; returns the mounts that give its rootfs."""
        path = self._active(key)
        if os.path.exists(path):
            raise AlreadyExists(f"snapshot {key} exists already")
        if parent_chain_id:
            self.chain(parent_chain_id)
        quota = check_size_support(self.root) if size is not None else ""
        stage = path + f".stage-{os.urandom(4).hex()}"
        upper = os.path.join(stage, "upper")
        try:
            if quota == "btrfs":  # the snapshot dir is a subvolume with a qgroup limit (overlay renames work -> upper)
                set_btrfs_qgroup(self.root, stage, size)
            os.makedirs(upper, 0o755)
            os.makedirs(os.path.join(stage, "work"), 0o700)
            _write(os.path.join(stage, "parent"), parent_chain_id)
            if quota == "xfs":
                set_project_quota(self.root, upper, size)
        except BaseException:
            _rmtree(stage)
            raise
        os.rename(stage, path)
        return self.mounts(key)

    def upper_dir(self, key: str) -> str:
        path = self._active(key)
        if not os.path.isdir(path):
            raise NotFound(f"snapshot {key} not found")
        return os.path.join(path, "upper")

    def parent_of(self, key: str) -> str:
        return _read(os.path.join(self._active(key), "parent"))

    def mounts(self, key: str) -> list[MountSpec]:
        path = self._active(key)
        if not os.path.isdir(path):
            raise NotFound(f"snapshot {key} not found")
        parent = self.parent_of(key)
        chain = self.chain(parent) if parent else []
        upper, work = os.path.join(path, "upper"), os.path.join(path, "work")
        if not chain:
            empty = os.path.join(self.root, "empty")
            os.makedirs(empty, exist_ok=True)
            lowers_abs = [empty]
            lowers_rel = ["empty"]
        else:
            lowers_abs = [self.diff_dir(c) for c in chain]
            lowers_rel = [os.path.join("l", _read(os.path.join(self.layer_path(c), "link"))) for c in chain]
        return [plan_overlay(lowers_abs, lowers_rel, upper, work, self.root)]

    def remove(self, key: str) -> None:
        path = self._active(key)
        if not os.path.exists(path):
            raise NotFound(f"snapshot {key} not found")
        trash = path + f".stage-rm-{os.urandom(4).hex()}"
        os.rename(path, trash)
        # An empty btrfs subvolume (--storage-opt size=) goes with rmdir too; the kernel drops its qgroup once
        # its cleaner has freed the subvolume's tree.
        _rmtree(trash)

    def snapshots(self) -> list[str]:
        return [n for n in os.listdir(self.active_dir) if ".stage-" not in n]

    def usage(self, key_or_chain: str) -> Usage:
        if _digest.is_digest(key_or_chain) and self.has_layer(key_or_chain):
            return dir_usage(self.diff_dir(key_or_chain))
        return dir_usage(self.upper_dir(key_or_chain))


def chain_of(parent_chain_id: str, diff_id: str) -> str:
    return diff_id if not parent_chain_id else _digest.of_bytes(f"{parent_chain_id} {diff_id}".encode())


def plan_overlay(lowers_abs: list[str], lowers_rel: list[str], upper: str, work: str, cwd: str) -> MountSpec:
    """The overlay mount for a lower stack (top first): absolute paths if they fit in a page, else relative."""
    if len(lowers_abs) > MAX_LOWER:
        raise InvalidArgument(f"too many layers for overlayfs: {len(lowers_abs)} > {MAX_LOWER}")
    tail = [f"upperdir={upper}", f"workdir={work}"]
    opts = [f"lowerdir={':'.join(lowers_abs)}", *tail]
    if len(",".join(opts)) <= PAGE_LIMIT:
        return MountSpec("overlay", "overlay", tuple(opts))
    opts = [f"lowerdir={':'.join(lowers_rel)}", *tail]
    if len(",".join(opts)) > PAGE_LIMIT:
        raise InvalidArgument(f"overlay mount options for {len(lowers_rel)} layers exceed one page even with short links")
    return MountSpec("overlay", "overlay", tuple(opts), cwd=cwd)


def mount_spec(spec: MountSpec, target: str, flags: int = 0) -> None:
    """Execute a MountSpec (chdir for relative lowerdirs; restore the cwd)."""
    from pallet.linux.mount import MS_BIND, MS_REC, mount

    if spec.type == "bind":
        mount(spec.source, target, None, flags | MS_BIND | (MS_REC if "rbind" in spec.options else 0), None)
        return
    old = os.open(".", os.O_RDONLY | os.O_DIRECTORY) if spec.cwd else -1
    try:
        if spec.cwd:
            os.chdir(spec.cwd)
        mount(spec.source, target, spec.type, flags, ",".join(spec.options))
    finally:
        if old >= 0:
            os.fchdir(old)
            os.close(old)


# -- size limits: xfs project quota --------------------------------------------

def _mount_of(path: str) -> tuple[str, str, str]:
    """(mount point, fs type, super options) of the mount holding `path`, from mountinfo."""
    path = os.path.realpath(path)
    best = ("/", "", "")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            mp = fields[4].replace("\\040", " ")
            rf = right.split()
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best[0]):
                best = (mp, rf[0], rf[2] if len(rf) > 2 else "")
    return best


def check_size_support(root: str) -> str:
    """How this store can limit a container's writable layer: "xfs" (project quota) or "btrfs" (qgroup)."""
    mp, fstype, opts = _mount_of(root)
    if fstype == "btrfs":
        return "btrfs"
    if fstype != "xfs":
        raise Unavailable(f"--storage-opt size needs the store on xfs mounted with 'pquota', or on btrfs: {root} is on "
                          f"{fstype or 'an unknown fs'} ({mp})")
    if not ({"prjquota", "pquota", "pqnoenforce"} & set(opts.split(","))):
        raise Unavailable(f"--storage-opt size needs the xfs filesystem at {mp} to be mounted with 'pquota' (it has: {opts})")
    return "xfs"


def set_btrfs_qgroup(root: str, directory: str, size: int) -> None:
    """Make `directory` a btrfs subvolume whose qgroup allows `size` bytes (quotas are enabled on first use)."""
    import subprocess

    steps = (["btrfs", "subvolume", "create", directory], ["btrfs", "quota", "enable", root],
             ["btrfs", "qgroup", "limit", str(size), directory])
    for argv in steps:
        try:
            r = subprocess.run(argv, capture_output=True, text=True)
        except FileNotFoundError:
            raise Unavailable("--storage-opt size on btrfs needs the btrfs command (btrfs-progs)") from None
        if r.returncode != 0:
            raise PalletError(f"btrfs {' '.join(argv[1:3])} on {directory} failed: {r.stderr.strip() or r.stdout.strip()}")


def set_project_quota(root: str, directory: str, size: int) -> None:
    """Give `directory` its own xfs project id and a hard block limit of `size` bytes."""
    import subprocess
    import zlib

    mp, _, _ = _mount_of(root)
    project = 100000 + (zlib.crc32(directory.encode()) % 1_000_000_000)
    cmds = [f"project -s -p {directory} {project}", f"limit -p bhard={size} {project}"]
    for c in cmds:
        r = subprocess.run(["xfs_quota", "-x", "-c", c, mp], capture_output=True, text=True)
        if r.returncode != 0:
            raise PalletError(f"setting an xfs project quota on {directory} failed: {r.stderr.strip() or r.stdout.strip()}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _rmtree(path: str) -> None:
    """rm -rf that skips errors so GC can retry (immutable or append-only files are not expected in layers); not
    shutil (see remove_tree). The trees it gets are renamed aside first and nothing writes into them any more."""
    remove_tree(path, ignore_errors=True)


def parse_size(text: str) -> int:
    import re  # lazily: only --storage-opt size= parses a size

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*", text.lower())
    if not m:
        raise InvalidArgument(f"invalid size {text!r}")
    mult = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[m.group(2)]
    return int(float(m.group(1)) * mult)


DRIVERS = {"overlay": OverlaySnapshotter, "overlay2": OverlaySnapshotter}


def open_snapshotter(root: str, driver: str = "overlay"):
    try:
        cls = DRIVERS[driver]
    except KeyError:
        raise InvalidArgument(f"unknown storage driver {driver!r}: expected one of {', '.join(sorted(DRIVERS))}") from None
    return cls(os.path.join(root, cls.driver))


class VfsSnapshotter(OverlaySnapshotter):
    """Full copies, for filesystems overlayfs can't sit on. Same layout and protocol as overlay,
    but each `layers/<chain>/diff` holds the whole tree at that chain, and a container's
    snapshot is a copy too, mounted with a bind mount.

    A layer is applied by extracting it alone (the guarded fast path) into a temp dir, then
    merging that onto a copy of its parent: whiteouts delete, opaque dirs are emptied first,
    every path resolved inside the copy by the kernel (openat2 RESOLVE_IN_ROOT), so a parent
    layer's symlink can't lead a write outside.
    """

    driver = "vfs"

    def add_layer(self, chain_id, parent, src, *, size=None, compression=None, blob_writer=None,
                  what: str = "layer", expected_diff_id: str = "", split: bool = True,
                  blob_only_if_compressed: bool = False) -> _layer.Applied:
        if parent and not self.has_layer(parent):
            raise NotFound(f"{what}: parent layer {parent} is not in the store")
        stage = os.path.join(self.layers_dir, f".stage-{os.getpid()}-{os.urandom(6).hex()}")
        os.mkdir(stage, 0o700)
        try:
            split_path = os.path.join(stage, "tar-split") if split else ""
            only = os.path.join(stage, "layer")
            applied = _layer.apply_tar(src, only, size=size, compression=compression, blob_writer=blob_writer,
                                       what=what, expected_diff_id=expected_diff_id, split_path=split_path,
                                       blob_only_if_compressed=blob_only_if_compressed)
            diff = os.path.join(stage, "diff")
            if parent:
                _copy_tree(self.diff_dir(parent), diff)
            else:
                os.mkdir(diff, 0o755)
            merge_layer(only, diff)
            _rmtree(only)
            return self._commit_applied(stage, applied, split_path, chain_id, parent)
        finally:
            if os.path.exists(stage):
                _rmtree(stage)

    def layer_dirs(self, chain_id: str) -> list[str]:
        # the top dir alone is the whole tree
        return [self.diff_dir(chain_id)] if chain_id else []

    def prepare(self, key: str, parent_chain_id: str, *, size: int | None = None) -> list[MountSpec]:
        if size is not None:
            raise Unavailable("--storage-opt size is not supported by the vfs storage driver")
        path = self._active(key)
        if os.path.exists(path):
            raise AlreadyExists(f"snapshot {key} exists already")
        stage = path + f".stage-{os.urandom(4).hex()}"
        os.makedirs(stage)
        if parent_chain_id:
            _copy_tree(self.diff_dir(parent_chain_id), os.path.join(stage, "fs"))
        else:
            os.mkdir(os.path.join(stage, "fs"), 0o755)
        _write(os.path.join(stage, "parent"), parent_chain_id)
        os.rename(stage, path)
        return self.mounts(key)

    def mounts(self, key: str) -> list[MountSpec]:
        path = self._active(key)
        if not os.path.isdir(path):
            raise NotFound(f"snapshot {key} not found")
        return [MountSpec("bind", os.path.join(path, "fs"), ("rbind", "rw"))]

    def upper_dir(self, key: str) -> str:
        raise Unavailable("the vfs storage driver keeps no separate changes: commit and diff need overlay")

    def usage(self, key_or_chain: str) -> Usage:
        if _digest.is_digest(key_or_chain) and self.has_layer(key_or_chain):
            return dir_usage(self.diff_dir(key_or_chain))
        return dir_usage(os.path.join(self._active(key_or_chain), "fs"))


def _copy_tree(src: str, dst: str) -> None:
    import subprocess

    r = subprocess.run(["cp", "-a", "--reflink=auto", src, dst], capture_output=True, text=True)
    if r.returncode != 0:
        raise PalletError(f"copying {src} failed: {r.stderr.strip()}")


def _remove_at(dfd: int, name: str) -> None:
    try:
        st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        import shutil  # lazily: see _rmtree

        shutil.rmtree(name, dir_fd=dfd)
    else:
        os.unlink(name, dir_fd=dfd)


def merge_layer(layer_dir: str, root: str) -> None:
    """Apply an overlay-format layer dir onto a full tree at `root` (moves files out of layer_dir)."""
    from pallet.linux.openat2 import open_in_root

    rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for dirpath, dirnames, filenames in os.walk(layer_dir):
            rel = os.path.relpath(dirpath, layer_dir)
            dfd = open_in_root(rootfd, "." if rel == "." else rel, os.O_RDONLY | os.O_DIRECTORY)
            try:
                if rel != "." and _layer.is_opaque(dirpath):
                    for name in os.listdir(dfd):
                        _remove_at(dfd, name)
                for name in dirnames:
                    sp = os.path.join(dirpath, name)
                    st = os.lstat(sp)
                    try:
                        dst = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                    except FileNotFoundError:
                        dst = None
                    if dst is not None and not stat.S_ISDIR(dst.st_mode):
                        _remove_at(dfd, name)
                        dst = None
                    if dst is None:
                        os.mkdir(name, 0o700, dir_fd=dfd)
                    os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
                    os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dfd)
                for name in filenames:
                    sp = os.path.join(dirpath, name)
                    st = os.lstat(sp)
                    _remove_at(dfd, name)
                    if _layer.is_whiteout(st):
                        continue
                    os.rename(sp, name, dst_dir_fd=dfd)
            finally:
                os.close(dfd)
        # directory times and xattrs last (children changed the mtimes)
        for dirpath, dirnames, _ in os.walk(layer_dir, topdown=False):
            for name in dirnames:
                sp = os.path.join(dirpath, name)
                rel = os.path.relpath(sp, layer_dir)
                st = os.lstat(sp)
                fd = open_in_root(rootfd, rel, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    for x in os.listxattr(sp, follow_symlinks=False):
                        if not x.startswith("trusted.overlay."):
                            os.setxattr(fd, x, os.getxattr(sp, x, follow_symlinks=False))
                    os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
                finally:
                    os.close(fd)
    finally:
        os.close(rootfd)


DRIVERS["vfs"] = VfsSnapshotter
