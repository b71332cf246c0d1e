"""ContainerConfig: everything fixed at create, as a frozen value you can print.

The CLI turns flags into a `CreateRequest` of raw strings; `parse_*` helpers
here validate values (sizes, ulimits, mounts) and name the bad flag, so the
API (later) shares them.
"""

from __future__ import annotations

from pallet.fastjson import dumps, loads
from pallet.values import as_dict, fields_of, frozen
from pallet.errors import InvalidArgument

_SIZE_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(value: str, flag: str) -> int:
    """Docker's RAMInBytes: 512, 64m, 1g, 1.5GiB (binary units)."""
    import re  # lazily, as every regex of this module: `ps` and `stats` load configs, never parse flags

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:i?b)?\s*", value.lower())
    if not m:
        raise InvalidArgument(f"invalid size {value!r} for {flag}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


# Docker's --ulimit names -> RLIMIT_* (tables, not branches).
ULIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}


@frozen
class Ulimit:
    name: str
    soft: int
    hard: int


def parse_ulimit(value: str) -> Ulimit:
    """`core=0`, `nofile=1024:2048` (-1 means unlimited)."""
    name, eq, limits = value.partition("=")
    if not eq or name not in ULIMITS:
        raise InvalidArgument(f"invalid ulimit {value!r}: expected NAME=SOFT[:HARD] with NAME in {', '.join(sorted(ULIMITS))}")
    soft_s, _, hard_s = limits.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit {value!r}: limits must be integers") from None
    if soft != -1 and hard != -1 and soft > hard:
        raise InvalidArgument(f"invalid ulimit {value!r}: soft limit {soft} is above hard limit {hard}")
    return Ulimit(name, soft, hard)


@frozen
class MountSpec:
    """One -v / --mount / --tmpfs. type: bind, volume or tmpfs."""

    type: str
    source: str
    destination: str
    readonly: bool = False
    options: tuple[str, ...] = ()


_VOLUME_NAME = r"[a-zA-Z0-9][a-zA-Z0-9_.-]+"


def valid_volume_name(name: str) -> bool:
    import re

    return bool(re.fullmatch(_VOLUME_NAME, name))


def parse_volume_flag(value: str) -> MountSpec:
    """`-v SRC:DST[:OPTS]` (bind when SRC is absolute, else a named volume) or `-v DST` (anonymous)."""
    parts = value.split(":")
    if len(parts) == 1:
        src, dst, opts = "", parts[0], []
    elif len(parts) in (2, 3):
        src, dst = parts[0], parts[1]
        opts = parts[2].split(",") if len(parts) == 3 else []
    else:
        raise InvalidArgument(f"invalid volume specification {value!r}")
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid volume specification {value!r}: destination {dst!r} is not an absolute path")
    readonly = False
    extra = []
    if "ro" in opts and "rw" in opts:
        raise InvalidArgument(f"invalid volume specification {value!r}: ro and rw conflict")
    for o in opts:
        if o == "ro":
            readonly = True
        elif o in ("rw", ""):
            pass
        elif o in ("z", "Z", "private", "rprivate", "shared", "rshared", "slave", "rslave", "nocopy", "copy"):
            extra.append(o)
        else:
            raise InvalidArgument(f"invalid volume specification {value!r}: unknown option {o!r}")
    if src.startswith("/"):
        return MountSpec(type="bind", source=src, destination=dst, readonly=readonly, options=tuple(extra))
    if src and not valid_volume_name(src):
        raise InvalidArgument(f"invalid volume name {src!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed; use an absolute path for a bind mount")
    return MountSpec(type="volume", source=src, destination=dst, readonly=readonly, options=tuple(extra))


_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")


def parse_mount_flag(value: str) -> MountSpec:
    """`--mount type=bind,source=/a,target=/b,readonly`."""
    kv: dict[str, str] = {}
    for item in value.split(","):
        k, eq, v = item.partition("=")
        kv[k.strip()] = v if eq else "true"
    mtype = kv.pop("type", "volume")
    src = kv.pop("source", kv.pop("src", ""))
    dst = kv.pop("target", kv.pop("destination", kv.pop("dst", "")))
    ro = kv.pop("readonly", kv.pop("ro", "false")) in ("true", "1", "")
    if mtype not in ("bind", "volume", "tmpfs"):
        raise InvalidArgument(f"invalid mount {value!r}: unknown type {mtype!r}")
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid mount {value!r}: target must be an absolute path")
    opts = []
    for k, v in kv.items():
        if k == "tmpfs-size":
            opts.append(f"size={parse_size(v, '--mount tmpfs-size')}")
        elif k == "tmpfs-mode":
            opts.append(f"mode={v}")
        elif k == "bind-propagation":
            if v not in _PROPAGATIONS or mtype != "bind":
                raise InvalidArgument(f"invalid mount {value!r}: bind-propagation takes {', '.join(_PROPAGATIONS)} (bind mounts only)")
            opts.append(v)
        elif k == "volume-nocopy" and mtype == "volume":
            if v in ("true", "1"):
                opts.append("nocopy")
        elif k == "consistency":
            continue
        else:
            raise InvalidArgument(f"invalid mount {value!r}: unknown option {k!r}")
    if mtype == "bind" and not src.startswith("/"):
        raise InvalidArgument(f"invalid mount {value!r}: bind source must be an absolute path")
    return MountSpec(type=mtype, source=src, destination=dst, readonly=ro, options=tuple(opts))


def parse_tmpfs_flag(value: str) -> MountSpec:
    dst, _, opts = value.partition(":")
    if not dst.startswith("/"):
        raise InvalidArgument(f"invalid tmpfs {value!r}: destination must be an absolute path")
    return MountSpec(type="tmpfs", source="tmpfs", destination=dst, options=tuple(o for o in opts.split(",") if o))


@frozen
class Resources:
    memory: int = 0
    memory_swap: int = 0  # -1 unlimited, 0 unset
    memory_reservation: int = 0
    memory_swappiness: int = -1
    oom_kill_disable: bool = False
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    pids_limit: int = 0
    blkio_weight: int = 0


@frozen
class RestartPolicy:
    name: str = "no"  # no, on-failure, always, unless-stopped
    max_retries: int = 0


def parse_restart(value: str) -> RestartPolicy:
    name, _, count = value.partition(":")
    if name not in ("no", "on-failure", "always", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy {value!r}: expected no, on-failure[:N], always or unless-stopped")
    if count and name != "on-failure":
        raise InvalidArgument(f"invalid restart policy {value!r}: a retry count is only valid with on-failure")
    try:
        n = int(count) if count else 0
    except ValueError:
        raise InvalidArgument(f"invalid restart policy {value!r}: retry count must be an integer") from None
    return RestartPolicy(name=name, max_retries=n)


@frozen
class ContainerConfig:
    """What `create` fixed. Stored as JSON in the containers table."""

    id: str
    name: str
    image: str
    image_id: str = ""
    rootfs_dir: str = ""  # --rootfs: run from a directory, no image, no snapshot
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    workdir: str = ""
    user: str = ""
    group_add: tuple[str, ...] = ()
    hostname: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    mounts: tuple[MountSpec, ...] = ()
    read_only: bool = False
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    seccomp: str = "default"  # default | unconfined | path of a Docker-format profile (content kept in seccomp_profile)
    seccomp_profile: str = ""
    no_new_privileges: bool = False
    security_opt: tuple[str, ...] = ()
    resources: Resources = Resources()
    ulimits: tuple[Ulimit, ...] = ()
    sysctls: tuple[tuple[str, str], ...] = ()
    devices: tuple[str, ...] = ()  # HOST:CONTAINER:PERMS, as --device took them
    device_cgroup_rules: tuple[str, ...] = ()
    shm_size: int = 64 << 20
    network_mode: str = "none"
    pid_mode: str = ""
    ipc_mode: str = ""
    uts_mode: str = ""
    tty: bool = False
    interactive: bool = False
    # Docker's StdinOnce: an attach's end of input closes the container's stdin. True for `create -i` and a
    # foreground `run -i` (the client that feeds it is the only one); a `run -d -i` keeps stdin open across attaches.
    stdin_once: bool = False
    auto_remove: bool = False
    restart: RestartPolicy = RestartPolicy()
    stop_signal: str = "SIGTERM"
    stop_timeout: int = 10
    init: bool = False
    runtime: str = ""
    storage_size: int = 0  # --storage-opt size=: a limit on the writable layer, bytes (0: none)
    log_max_size: int = 10 << 20
    log_max_file: int = 3
    log_driver: str = "json-file"  # daemon.json's log-driver at create: "none" keeps no log (logs is an error)

    @property
    def argv(self) -> tuple[str, ...]:
        return self.entrypoint + self.cmd

    def to_json(self) -> str:
        return dumps(as_dict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "ContainerConfig":
        raw = loads(text)
        known = set(fields_of(cls))
        raw = {k: v for k, v in raw.items() if k in known}
        raw.setdefault("stdin_once", raw.get("interactive", False))  # a record from before the field: as it behaved
        raw["mounts"] = tuple(MountSpec(**{**m, "options": tuple(m.get("options", ()))}) for m in raw.get("mounts", ()))
        raw["ulimits"] = tuple(Ulimit(**u) for u in raw.get("ulimits", ()))
        raw["resources"] = Resources(**raw.get("resources", {}))
        raw["restart"] = RestartPolicy(**raw.get("restart", {}))
        for k in ("entrypoint", "cmd", "env", "group_add", "cap_add", "cap_drop", "security_opt", "devices",
                  "device_cgroup_rules"):
            raw[k] = tuple(raw.get(k, ()))
        for k in ("labels", "sysctls"):
            raw[k] = tuple(tuple(p) for p in raw.get(k, ()))
        return cls(**raw)
