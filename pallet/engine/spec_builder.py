"""ContainerConfig -> OCI runtime config.json (a plain dict): a pure planner.

Docker's defaults: its capability set, masked and read-only /proc and /sys
paths, the default mounts, the default seccomp profile, nofile clamped to
what this host allows. Everything the planner needs from the host arrives in
`HostFacts` / `Resolved` so unit tests can call it without root.
"""

from __future__ import annotations

from pallet.engine.config import ULIMITS, ContainerConfig, MountSpec
from pallet.values import frozen
from pallet.errors import InvalidArgument

DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)

ALL_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
    "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)

ALL_CAPS_BY_NUMBER = ALL_CAPS  # listed in kernel bit order (CAP_CHOWN = 0 ... CAP_CHECKPOINT_RESTORE = 40)

MASKED_PATHS = (
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Docker's default device cgroup rules beyond the runtime's own defaults.
_DEFAULT_DEVICE_RULES = [{"allow": False, "access": "rwm"}]


def normalize_cap(name: str) -> str:
    up = name.upper()
    if up == "ALL":
        return "ALL"
    cap = up if up.startswith("CAP_") else "CAP_" + up
    if cap not in ALL_CAPS:
        raise InvalidArgument(f"unknown capability {name!r}")
    return cap


def capabilities(cfg: ContainerConfig) -> list[str]:
    if cfg.privileged:
        return list(ALL_CAPS)
    adds = [normalize_cap(c) for c in cfg.cap_add]
    drops = [normalize_cap(c) for c in cfg.cap_drop]
    if "ALL" in adds:
        caps = list(ALL_CAPS)
    elif "ALL" in drops:
        caps = []
    else:
        caps = list(DEFAULT_CAPS)
    caps = [c for c in caps if c not in drops]
    caps += [c for c in adds if c != "ALL" and c not in caps]
    return caps


@frozen
class HostFacts:
    """What the host allows: hard rlimits by RLIMIT_* name."""

    hard_limits: dict = {}
    bounding_caps: tuple[str, ...] | None = None  # the caps this host can grant; None = all


@frozen
class Resolved:
    """Values create() worked out from the host and the image for one container."""

    rootfs: str
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    bind_sources: tuple[str, ...] = ()  # host path per cfg.mounts entry ("" for tmpfs)
    hostname_file: str = ""
    hosts_file: str = ""
    resolv_file: str = ""
    cgroups_path: str = ""
    netns_path: str = ""  # --net container:ID
    pidns_path: str = ""
    ipcns_path: str = ""
    shm_source: str = ""  # host path bound at /dev/shm (--ipc shareable / container:ID: see pallet.engine.shm)
    seccomp: dict | None = None  # OCI linux.seccomp, already converted
    default_ulimits: tuple = ()  # daemon.json default-ulimits, as config.Ulimit
    devices: tuple = ()  # --device: OCI linux.devices entries (pallet.engine.devices.resolve_all)
    device_rules: tuple = ()  # --device and --device-cgroup-rule: OCI resources.devices allow rules


def _rlimits(cfg: ContainerConfig, resolved: Resolved, host: HostFacts) -> list[dict]:
    merged = {u.name: u for u in resolved.default_ulimits}
    merged.update({u.name: u for u in cfg.ulimits})
    nofile_hard = host.hard_limits.get("RLIMIT_NOFILE", 1048576)
    out = {"RLIMIT_NOFILE": (min(1024, nofile_hard), min(524288, nofile_hard))}
    for u in merged.values():
        rl = ULIMITS[u.name]
        hard_cap = host.hard_limits.get(rl, -1)
        soft, hard = (2**64 - 1 if v == -1 else v for v in (u.soft, u.hard))
        if hard_cap not in (-1, None) and hard > hard_cap:
            raise InvalidArgument(f"ulimit {u.name}={u.soft}:{u.hard} is above this host's hard limit {hard_cap}")
        out[rl] = (soft, hard)
    return [{"type": k, "soft": s, "hard": h} for k, (s, h) in out.items()]


def _resources(cfg: ContainerConfig) -> dict:
    r = cfg.resources
    res: dict = {"devices": [] if cfg.privileged else list(_DEFAULT_DEVICE_RULES)}
    if cfg.privileged:
        res["devices"] = [{"allow": True, "access": "rwm"}]
    mem: dict = {}
    if r.memory:
        mem["limit"] = r.memory
        # Docker: with --memory and no --memory-swap, swap is allowed up to the same amount again.
        mem["swap"] = r.memory_swap if r.memory_swap else 2 * r.memory
        if r.memory_swap == -1:
            mem["swap"] = -1
    if r.memory_reservation:
        mem["reservation"] = r.memory_reservation
    if r.memory_swappiness >= 0:
        mem["swappiness"] = r.memory_swappiness
    if r.oom_kill_disable:
        mem["disableOOMKiller"] = True
    if mem:
        res["memory"] = mem
    cpu: dict = {}
    if r.nano_cpus:
        period = r.cpu_period or 100000
        cpu["period"] = period
        cpu["quota"] = r.nano_cpus * period // 10**9
    if r.cpu_quota:
        cpu["quota"] = r.cpu_quota
    if r.cpu_period:
        cpu["period"] = r.cpu_period
    if r.cpu_shares:
        cpu["shares"] = r.cpu_shares
    if r.cpuset_cpus:
        cpu["cpus"] = r.cpuset_cpus
    if r.cpuset_mems:
        cpu["mems"] = r.cpuset_mems
    if cpu:
        res["cpu"] = cpu
    if r.pids_limit:
        res["pids"] = {"limit": r.pids_limit}
    if r.blkio_weight:
        res["blockIO"] = {"weight": r.blkio_weight}
    return res


_MIN_MEMORY = 6 << 20  # Docker's linuxMinMemory: the kernel and runtime need some headroom


def parse_cpu_list(value: str, flag: str) -> set[int]:
    """A cpuset list ("0-2,4") -> its numbers; a bad one names `flag` (no `re` on the run path)."""
    out: set[int] = set()
    for part in value.split(","):
        lo, dash, hi = part.strip().partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()) or (dash and int(hi) < int(lo)):
            raise InvalidArgument(f"invalid {flag} {value!r}: expected a list like 0-2,4")
        out.update(range(int(lo), int(hi if dash else lo) + 1))
    return out


def check_resources(r, *, online_cpus: str = "", online_mems: str = "", ncpus: int = 0) -> None:
    """Refuse limits the kernel or runtime would refuse later, naming the flag (Docker's rules); `create` and
    `update` (with the merged values) both ask.

    online_cpus / online_mems: the host's lists ("0-1"), needed only with --cpuset-cpus / --cpuset-mems;
    ncpus: the host's CPU count, to bound --cpus (0: not checked).
    """
    if 0 < r.memory < _MIN_MEMORY:
        raise InvalidArgument("--memory: minimum memory limit allowed is 6MB")
    if r.nano_cpus and not 10**7 <= r.nano_cpus <= (ncpus * 10**9 if ncpus else r.nano_cpus):
        top = f" to {ncpus}.00, as there are only {ncpus} CPUs available" if ncpus else ""
        raise InvalidArgument(f"--cpus {r.nano_cpus / 1e9:g}: range of CPUs is from 0.01{top}")
    if r.memory_swap not in (0, -1):
        if not r.memory:
            raise InvalidArgument("--memory-swap needs --memory: it limits memory plus swap")
        if r.memory_swap < r.memory:
            raise InvalidArgument(f"--memory-swap {r.memory_swap} is below --memory {r.memory}: "
                                  "it limits memory plus swap, so it must be at least the memory limit")
    if r.memory_reservation:
        if r.memory_reservation < _MIN_MEMORY:
            raise InvalidArgument("--memory-reservation: minimum memory reservation allowed is 6MB")
        if r.memory and r.memory_reservation > r.memory:
            raise InvalidArgument(f"--memory-reservation {r.memory_reservation} is above --memory {r.memory}")
    if r.nano_cpus and r.cpu_period:
        raise InvalidArgument("conflicting options: --cpus and --cpu-period cannot both be set")
    if r.nano_cpus and r.cpu_quota:
        raise InvalidArgument("conflicting options: --cpus and --cpu-quota cannot both be set")
    if r.cpu_period and not 1000 <= r.cpu_period <= 1000000:
        raise InvalidArgument(f"--cpu-period {r.cpu_period}: must be from 1000 (1ms) to 1000000 (1s)")
    if 0 < r.cpu_quota < 1000:
        raise InvalidArgument(f"--cpu-quota {r.cpu_quota}: must be at least 1000 (1ms)")
    if r.pids_limit < -1:
        raise InvalidArgument("--pids-limit must be -1 (unlimited) or positive")
    if r.cpu_shares < 0:
        raise InvalidArgument(f"--cpu-shares {r.cpu_shares}: must not be negative")
    if r.blkio_weight and not 10 <= r.blkio_weight <= 1000:
        raise InvalidArgument(f"--blkio-weight {r.blkio_weight}: must be from 10 to 1000")
    for flag, value, online in (("--cpuset-cpus", r.cpuset_cpus, online_cpus), ("--cpuset-mems", r.cpuset_mems, online_mems)):
        if not value:
            continue
        want = parse_cpu_list(value, flag)
        if online and not want <= parse_cpu_list(online, flag):
            raise InvalidArgument(f"{flag} {value}: requested {'CPUs' if flag == '--cpuset-cpus' else 'memory nodes'} "
                                  f"are not available (available: {online})")


# Options of a tmpfs mount: the mount flags (runc's table) and the data keys Docker passes to tmpfs.
_TMPFS_FLAGS = frozenset({
    "ro", "rw", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "sync", "async", "dirsync", "mand", "nomand",
    "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime",
    "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "tmpcopyup",
})
_TMPFS_DATA = frozenset({"size", "mode", "uid", "gid", "nr_inodes", "nr_blocks", "mpol", "huge", "inode64"})


def check_mounts(cfg: ContainerConfig) -> None:
    """Mount destinations and tmpfs options the runtime would only refuse at start."""
    for m in cfg.mounts:
        if m.destination.rstrip("/") in ("", "/."):
            raise InvalidArgument(f"invalid mount {m.source or m.type}:{m.destination}: the destination can't be '/'")
        if m.type != "tmpfs":
            continue
        for o in m.options:
            key, eq, val = o.partition("=")
            if (not eq and o in _TMPFS_FLAGS) or (key in _TMPFS_DATA and (eq or key == "inode64")):
                if key == "mode" and not (val and all(c in "01234567" for c in val)):
                    raise InvalidArgument(f"invalid tmpfs option {o!r} for {m.destination}: mode must be octal")
                continue
            raise InvalidArgument(f"invalid tmpfs option {o!r} for {m.destination}")


def plan_resources(cfg: ContainerConfig) -> dict:
    """linux.resources for `cfg` (also what `update` sends to the runtime)."""
    return _resources(cfg)


def _mount_for(m: MountSpec, source: str) -> dict:
    if m.type == "tmpfs":
        opts = ["nosuid", "nodev", "noexec", *m.options]
        if m.readonly:
            opts.append("ro")
        return {"destination": m.destination, "type": "tmpfs", "source": "tmpfs", "options": opts}
    opts = ["rbind", "ro" if m.readonly else "rw"]
    opts += [o for o in m.options if o in ("private", "rprivate", "shared", "rshared", "slave", "rslave")]
    if not any(o.endswith(("private", "shared", "slave")) for o in opts):
        opts.append("rprivate")
    return {"destination": m.destination, "type": "bind", "source": source, "options": opts}


def _default_mounts(cfg: ContainerConfig, shm_source: str = "") -> list[dict]:
    sys_opts = ["nosuid", "noexec", "nodev", "ro"] if not cfg.privileged else ["nosuid", "noexec", "nodev", "rw"]
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", "ro" if not cfg.privileged else "rw"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    ]
    # --ipc host shares the host's /dev/shm too (POSIX shm lives there), as Docker; shareable and container:ID
    # bind the donor's host-side tmpfs (pallet.engine.shm). Without a source (private, or a plan made at create)
    # the runtime mounts a tmpfs of the container's own.
    if shm_source:
        mounts.append({"destination": "/dev/shm", "type": "bind", "source": shm_source,
                       "options": ["rbind", "nosuid", "noexec", "nodev", "rprivate"]})
    elif cfg.ipc_mode != "none":  # none: an IPC namespace and no /dev/shm at all
        mounts.append({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                       "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={cfg.shm_size}"]})
    return mounts


def _namespaces(cfg: ContainerConfig, resolved: Resolved) -> list[dict]:
    ns: list[dict] = [{"type": "mount"}, {"type": "cgroup"}]
    # host: no namespace of that kind (the host's); container:ID: join that container's; else a new one
    for kind, mode, path in (("network", cfg.network_mode, resolved.netns_path),
                             ("pid", cfg.pid_mode, resolved.pidns_path), ("ipc", cfg.ipc_mode, resolved.ipcns_path)):
        if mode != "host":
            ns.append({"type": kind, "path": path} if mode.startswith("container:") else {"type": kind})
    if cfg.uts_mode != "host" and cfg.network_mode != "host":
        ns.append({"type": "uts"})
    return ns


def build_spec(cfg: ContainerConfig, resolved: Resolved, host: HostFacts) -> dict:
    """The OCI config.json for `cfg`, as a dict."""
    env = list(cfg.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, "PATH=" + DEFAULT_PATH)
    if not any(e.startswith("HOSTNAME=") for e in env) and cfg.uts_mode != "host" and cfg.network_mode != "host":
        env.append("HOSTNAME=" + (cfg.hostname or cfg.id[:12]))
    if cfg.tty and not any(e.startswith("TERM=") for e in env):
        env.append("TERM=xterm")
    caps = capabilities(cfg)
    if host.bounding_caps is not None:  # --privileged / ALL means every cap the host has (no SYS_RESOURCE here)
        caps = [c for c in caps if c in host.bounding_caps]
    process = {
        "terminal": cfg.tty,
        "user": {"uid": resolved.uid, "gid": resolved.gid,
                 **({"additionalGids": list(resolved.additional_gids)} if resolved.additional_gids else {})},
        "args": list(cfg.argv),
        "env": env,
        "cwd": cfg.workdir or "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "rlimits": _rlimits(cfg, resolved, host),
        "noNewPrivileges": cfg.no_new_privileges,
    }
    if resolved.uid != 0:
        # Docker keeps ambient/inheritable empty; a non-root user gets no effective caps.
        process["capabilities"]["effective"] = []
        process["capabilities"]["permitted"] = []
    mounts = _default_mounts(cfg, "/dev/shm" if cfg.ipc_mode == "host" else resolved.shm_source)
    for m, src in zip(cfg.mounts, resolved.bind_sources):
        mounts.append(_mount_for(m, src))
    dests = {m["destination"] for m in mounts}
    for dest, src in (("/etc/hostname", resolved.hostname_file), ("/etc/hosts", resolved.hosts_file),
                      ("/etc/resolv.conf", resolved.resolv_file)):
        if src and dest not in dests:
            mounts.append({"destination": dest, "type": "bind", "source": src,
                           "options": ["rbind", "rprivate", "ro" if cfg.read_only else "rw"]})
    linux: dict = {
        "namespaces": _namespaces(cfg, resolved),
        "resources": _resources(cfg),
    }
    if resolved.devices:
        linux["devices"] = list(resolved.devices)
    if not cfg.privileged:  # privileged already allows every device
        linux["resources"]["devices"] += list(resolved.device_rules)
    if resolved.cgroups_path:
        linux["cgroupsPath"] = resolved.cgroups_path
    if not cfg.privileged:
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
        if resolved.seccomp is not None:
            linux["seccomp"] = resolved.seccomp
    if cfg.sysctls:
        linux["sysctl"] = dict(cfg.sysctls)
    spec = {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": resolved.rootfs, "readonly": cfg.read_only},
        "hostname": "" if (cfg.uts_mode == "host" or cfg.network_mode == "host") else (cfg.hostname or cfg.id[:12]),
        "mounts": mounts,
        "linux": linux,
        "annotations": {"io.pallet.container.name": cfg.name, **dict(cfg.labels)},
    }
    if not spec["hostname"]:
        del spec["hostname"]
    return spec


def exec_process(cfg: ContainerConfig, argv: list[str], *, env: list[str], workdir: str, uid: int, gid: int,
                 tty: bool, privileged: bool, base_env: list[str]) -> dict:
    """The OCI process for `exec`: the container's env plus -e, its caps unless --privileged."""
    merged = {e.partition("=")[0]: e for e in base_env}
    merged.update({e.partition("=")[0]: e for e in env})
    caps = list(ALL_CAPS) if privileged else capabilities(cfg)
    return {
        "terminal": tty,
        "user": {"uid": uid, "gid": gid},
        "args": argv,
        "env": list(merged.values()),
        "cwd": workdir or cfg.workdir or "/",
        "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": cfg.no_new_privileges,
    }
