"""Where the running dockerd and containerd keep their state, from their command lines.

A node may run Docker with `--data-root` (or `data-root` in daemon.json)
and containerd with its own `root`/`state` (a config file, or the one
dockerd writes for the containerd it starts itself). Their defaults,
/var/lib/docker, /var/lib/containerd and /run/containerd, stay the first
place debug looks; the daemons found here add their dirs to it.

Only daemons in this process's mount namespace count: the paths a daemon
in another one (docker-in-docker, a kind node) names are not ours, nor
are the PIDs its state records.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache

from pallet.values import frozen

DOCKER_CONFIG = "/etc/docker/daemon.json"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
DOCKER_ROOT = "/var/lib/docker"
CONTAINERD_ROOT = "/var/lib/containerd"
CONTAINERD_STATE = "/run/containerd"


@frozen
class ContainerdDirs:
    root: str      # meta.db and snapshotters
    state: str     # shim task bundles (io.containerd.runtime.v2.task)


@frozen
class Daemons:
    docker_roots: tuple[str, ...]
    containerd: tuple[ContainerdDirs, ...]


def flag(argv: list[str], *names: str) -> str | None:
    """The value of a Go-style flag: `--name v`, `--name=v`, `-n v`, `-n=v` (the last one wins)."""
    value = None
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                value = argv[i + 1]
            elif arg.startswith(name + "="):
                value = arg[len(name) + 1:]
    return value


def _read_json(path: str) -> dict:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else {}
    except (OSError, ValueError):
        return {}


def _toml_top_strings(path: str) -> dict[str, str]:
    """The top-level `key = "string"` pairs of a TOML file (containerd's root and state).

    Not a TOML parser: tomllib costs ~20 ms to import, and these keys are plain
    strings before the first [table] in every containerd config (its own
    `config default`, dockerd's generated one). Escapes other than \\ and \" are kept as is.
    """
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for line in lines:
        line = line.strip()
        if line.startswith("["):
            break
        key, eq, value = line.partition("=")
        value = value.strip()
        end = value.find(value[0], 1) if eq and value[:1] in ("\"", "'") else -1
        if end < 0:         # not a string (a number, a table, a multi-line value)
            continue
        text = value[1:end]      # what follows is a comment, if anything
        if value[0] == '"':
            text = text.replace('\\\\', '\\').replace('\\"', '"')
        out[key.strip().strip('"')] = text
    return out


def docker_root(argv: list[str]) -> str:
    """dockerd's data root: the flag, else its daemon.json, else the default (`-g`/`--graph` before 23.0)."""
    root = flag(argv, "--data-root", "-g", "--graph")
    if root:
        return root
    conf = _read_json(flag(argv, "--config-file") or DOCKER_CONFIG)
    return conf.get("data-root") or conf.get("graph") or DOCKER_ROOT


def containerd_dirs(argv: list[str]) -> ContainerdDirs:
    """containerd's root and state: flags over its config file over the defaults."""
    conf = _toml_top_strings(flag(argv, "--config", "-c") or CONTAINERD_CONFIG)
    return ContainerdDirs(
        root=flag(argv, "--root") or conf.get("root") or CONTAINERD_ROOT,
        state=flag(argv, "--state") or conf.get("state") or CONTAINERD_STATE,
    )


def _argv(proc: str, pid: str) -> list[str]:
    with open(os.path.join(proc, pid, "cmdline"), "rb") as f:
        return [a.decode(errors="replace") for a in f.read().rstrip(b"\0").split(b"\0")]


@lru_cache(maxsize=4)
def discover(proc: str = "/proc") -> Daemons:
    """Every dockerd's and containerd's state dirs, in PID order (reads comm, then argv of the few matches)."""
    try:
        own_mnt = os.stat(os.path.join(proc, "self", "ns", "mnt")).st_ino
    except OSError:
        own_mnt = None
    docker, containerd = [], []
    for pid in sorted((p for p in os.listdir(proc) if p.isdigit()), key=int):
        try:
            with open(os.path.join(proc, pid, "comm")) as f:
                comm = f.read().strip()
            if comm not in ("dockerd", "containerd"):
                continue
            if own_mnt is not None and os.stat(os.path.join(proc, pid, "ns", "mnt")).st_ino != own_mnt:
                continue
            argv = _argv(proc, pid)
        except OSError:     # gone, or a kernel thread
            continue
        if comm == "dockerd":
            docker.append(docker_root(argv))
        else:
            containerd.append(containerd_dirs(argv))
    return Daemons(docker_roots=tuple(docker), containerd=tuple(containerd))
