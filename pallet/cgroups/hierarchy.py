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
