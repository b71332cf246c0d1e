"""Where the cgroup hierarchies are, and making a cgroup path in one.

On a real host the v1 hierarchies come from mountinfo (a hierarchy may
hold several controllers, "cpu,cpuacct"); a test points `root` at a
temporary tree instead, whose subdirectories stand for the hierarchies
(named like the mount: "memory", "cpu,cpuacct", "unified").
"""

from __future__ import annotations

import errno
import os
from pallet.errors import PalletError
from pallet.values import frozen

# Superblock options of a v1 cgroup mount that are not controllers.
_NOT_CONTROLLERS = frozenset({"rw", "ro", "clone_children", "noprefix", "xattr",
                              "cpuset_v2_mode", "favordynmods", "none"})


@frozen
class Hierarchy:
    mountpoint: str
    controllers: frozenset[str]   # "memory", "cpu", ..., or "name=systemd"


def v1_hierarchies(root: str) -> list[Hierarchy]:
    """The v1 hierarchies mounted below `root`, or a fake tree's subdirs."""
    from pallet.linux.proc import read_mountinfo

    found = []
    for m in read_mountinfo():
        if m.fstype == "cgroup" and os.path.dirname(m.mountpoint) == root.rstrip("/"):
            controllers = frozenset(o for o in m.super_options
                                    if o not in _NOT_CONTROLLERS
                                    and ("=" not in o or o.startswith("name=")))
            found.append(Hierarchy(mountpoint=m.mountpoint, controllers=controllers))
    if found:
        return found
    # A test's temporary tree: every subdir with cgroup.procs but "unified".
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else ():
        mountpoint = os.path.join(root, name)
        if name != "unified" and not os.path.islink(mountpoint) \
                and os.path.exists(os.path.join(mountpoint, "cgroup.procs")):
            found.append(Hierarchy(mountpoint=mountpoint, controllers=frozenset(name.split(","))))
    return found


def layout(root: str) -> tuple[str, dict[str, list[str]], str | None] | None:
    """The host's layout below `root`: (mode, {v1 mountpoint: controllers},
    the cgroup2 mountpoint of a hybrid host), or None when no hierarchy is
    mounted there (a test's temporary tree).

    Without mountinfo, on the path of every `create`: reading it costs 1 to
    5 ms here (the kernel formats every mount of the host, hundreds while
    containers run). cgroup.controllers exists only in a cgroup2 root, so
    `root` is v2 when it has one (detect() reads the same with statfs),
    hybrid when root/unified has one; /proc/self/cgroup lists every v1
    hierarchy with its controllers, and each is taken where it is mounted
    under `root` by its name ("cpu,cpuacct", "memory", "systemd" for
    name=systemd): a directory on a device of its own.
    """
    join_ = os.path.join
    if os.path.exists(join_(root, "cgroup.controllers")):
        return "v2", {}, None
    try:
        root_dev = os.stat(root).st_dev
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    mounts: dict[str, list[str]] = {}
    for line in lines:
        controllers = line.split(":", 2)[1] if line.count(":") >= 2 else ""
        if not controllers:
            continue  # the cgroup2 line "0::/path"
        names = controllers.split(",")
        for candidate in (controllers, *(n.partition("name=")[2] or n for n in names)):
            mountpoint = join_(root, candidate)
            try:
                st = os.stat(mountpoint)
            except OSError:
                continue
            if st.st_dev != root_dev:  # a mount, not a directory of root's own filesystem
                if os.path.islink(mountpoint):
                    mountpoint = os.path.realpath(mountpoint)
                mounts[mountpoint] = sorted(names)
                break
    unified = join_(root, "unified")
    unified = unified if os.path.exists(join_(unified, "cgroup.controllers")) else None
    if not (mounts or unified):
        return None
    return ("hybrid" if unified else "v1"), dict(sorted(mounts.items())), unified


def unified_mount(root: str) -> str | None:
    """A hybrid host's cgroup2 mount (root/unified), if there is one."""
    path = os.path.join(root, "unified")
    return path if os.path.exists(os.path.join(path, "cgroup.controllers")) else None


def join(mountpoint: str, path: str) -> str:
    return os.path.join(mountpoint, path.lstrip("/"))


def levels(mountpoint: str, path: str) -> list[str]:
    """Every dir from the first below `mountpoint` down to the cgroup itself."""
    out, current = [], mountpoint
    for part in path.strip("/").split("/"):
        current = os.path.join(current, part)
        out.append(current)
    return out


def make_levels(mountpoint: str, path: str) -> list[str]:
    """mkdir each level of `path`; return the dirs this call created."""
    created = []
    for d in levels(mountpoint, path):
        try:
            os.mkdir(d, 0o755)
            created.append(d)
        except FileExistsError:
            pass
        except OSError as exc:
            raise PalletError(f"cgroup {d}: mkdir: {exc.strerror}") from None
    return created


def remove_tree(dir: str) -> None:
    """rmdir `dir` and any sub-cgroups the container made, deepest first.

    cgroup dirs can't be removed with their files (rmdir only): the
    kernel drops the control files itself.
    """
    if not os.path.isdir(dir):
        return
    for top, subdirs, _ in os.walk(dir, topdown=False):
        for sub in subdirs:
            _rmdir(os.path.join(top, sub))
    _rmdir(dir)


def _rmdir(d: str) -> None:
    try:
        os.rmdir(d)
    except FileNotFoundError:
        pass
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise BusyError(d) from None
        raise PalletError(f"cgroup {d}: rmdir: {exc.strerror}") from None


class BusyError(PalletError):
    def __init__(self, d: str) -> None:
        super().__init__(f"cgroup {d}: rmdir: still has processes or sub-cgroups in use")
        self.dir = d
