"""Which sysctls a container may set: only those its own namespaces scope (runc's rule).

A sysctl is written through the container's /proc/sys before the process starts. Without a
namespace of its own for that sysctl (`--net host`, `--ipc host`, or a kernel-wide key like
vm.swappiness) the write would change the host for good, so it is refused up front.

    check(sysctls, namespaces)   # {"net.ipv4.ip_forward": "1"}, {"network": "", "ipc": "/proc/9/ns/ipc"}

`namespaces` maps each namespace kind the container gets to its path ("" = a new one).
"""

from __future__ import annotations

import os

from pallet.errors import InvalidArgument

# IPC-namespaced keys (besides fs.mqueue.*), as the kernel scopes them.
IPC_KEYS = frozenset({
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
    "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
})


def _same_as_host_net(path: str) -> bool:
    """True when `path` names our own (the host's) network namespace: joining it is no isolation (runc's test)."""
    try:
        a, b = os.stat(path), os.stat("/proc/self/ns/net")
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_one(key: str, namespaces: dict[str, str]) -> None:
    """InvalidArgument naming `key` unless one of the container's namespaces scopes it."""
    name = key.replace("/", ".")
    if name in IPC_KEYS or name.startswith("fs.mqueue."):
        if "ipc" in namespaces:
            return
        raise InvalidArgument(f"sysctl {key!r} is not allowed in the host's IPC namespace")
    if name.startswith("net."):
        if "network" in namespaces and not (namespaces["network"] and _same_as_host_net(namespaces["network"])):
            return
        raise InvalidArgument(f"sysctl {key!r} is not allowed in the host's network namespace")
    if name == "kernel.domainname" and "uts" in namespaces:
        return
    if name == "kernel.hostname" and "uts" in namespaces:
        raise InvalidArgument(f"sysctl {key!r} is not allowed: set the hostname instead (-h, or the spec's hostname)")
    raise InvalidArgument(f"sysctl {key!r} is not in a separate kernel namespace: setting it would change the host")


def check(sysctls: dict[str, str], namespaces: dict[str, str]) -> None:
    for key in sysctls:
        check_one(key, namespaces)
