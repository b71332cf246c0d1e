"""daemon.json with Docker's key names and meaning; an unknown key is an error, as dockerd does."""

from __future__ import annotations

from pallet.engine.config import ULIMITS, Ulimit, parse_size
from pallet.fastjson import loads
from pallet.values import frozen
from pallet.errors import InvalidArgument

# Keys pallet acts on, and Docker keys it accepts and stores (live-restore is always on: no daemon).
KNOWN_KEYS = frozenset({
    "default-ulimits", "default-runtime", "runtimes", "storage-opts", "storage-driver", "log-driver",
    "log-opts", "live-restore", "default-shm-size", "bridge", "registry-mirrors", "proxies",
    "insecure-registries", "data-root", "exec-root", "debug", "log-level", "exec-opts", "iptables",
    "ip-forward", "ip-masq", "dns", "dns-opts", "dns-search", "max-concurrent-downloads",
    "max-concurrent-uploads", "features", "experimental", "seccomp-profile", "no-new-privileges",
    "default-cgroupns-mode", "cgroup-parent", "userland-proxy", "labels", "hosts", "group",
    "selinux-enabled", "icc", "mtu", "ipv6", "init", "shutdown-timeout", "builder", "default-ipc-mode",
})


@frozen
class DaemonConfig:
    default_ulimits: tuple[Ulimit, ...] = ()
    default_runtime: str = ""
    runtimes: dict = {}
    storage_opts: tuple[str, ...] = ()
    log_driver: str = "json-file"
    log_max_size: int = 10 << 20  # a size limit by default (Docker has none)
    log_max_file: int = 3
    live_restore: bool = True
    default_shm_size: int = 64 << 20
    default_ipc_mode: str = "private"  # Docker >= 20.10's; "shareable" (older Docker's) mounts /dev/shm on the host
    bridge: str = "none"
    registry_mirrors: tuple[str, ...] = ()
    proxies: dict = {}
    seccomp_profile: str = ""
    no_new_privileges: bool = False
    init: bool = False
    raw: dict = {}


# A value of the wrong JSON type is an error naming the key, as dockerd's "cannot unmarshal" (not silently truthy).
BOOL_KEYS = frozenset({"live-restore", "debug", "experimental", "no-new-privileges", "iptables", "ip-forward",
                       "ip-masq", "selinux-enabled", "icc", "ipv6", "init", "userland-proxy"})
LIST_KEYS = frozenset({"storage-opts", "registry-mirrors", "insecure-registries", "exec-opts", "dns", "dns-opts",
                       "dns-search", "labels", "hosts"})
STR_KEYS = frozenset({"default-runtime", "storage-driver", "log-driver", "bridge", "data-root", "exec-root",
                      "log-level", "seccomp-profile", "default-cgroupns-mode", "cgroup-parent", "group",
                      "default-ipc-mode"})
DICT_KEYS = frozenset({"default-ulimits", "runtimes", "log-opts", "proxies", "features", "builder"})
STORAGE_OPTS = ("size", "override_kernel_check")  # overlay2's, with or without the "overlay2." prefix
LOG_DRIVERS = ("json-file", "local", "none")  # "local" is kept in json-file's format (same logs, same rotation)


def _check_types(raw: dict, source: str) -> None:
    for keys, kind, name in ((BOOL_KEYS, bool, "a boolean"), (LIST_KEYS, list, "a list"),
                             (STR_KEYS, str, "a string"), (DICT_KEYS, dict, "an object")):
        for k in keys & raw.keys():
            if raw[k] is not None and not isinstance(raw[k], kind):
                raise InvalidArgument(f"{source}: {k} must be {name}, not {raw[k]!r}")


def _check_storage_opts(opts: list, source: str) -> None:
    for opt in opts:
        key = str(opt).partition("=")[0].strip()
        if key.removeprefix("overlay2.").removeprefix("overlay.") not in STORAGE_OPTS:
            raise InvalidArgument(f"{source}: storage-opts: unknown option {key!r} (overlay2 takes overlay2.size)")


def parse(text: str, source: str = "daemon.json") -> DaemonConfig:
    try:
        raw = loads(text) if text.strip() else {}
    except ValueError as exc:
        raise InvalidArgument(f"{source}: invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidArgument(f"{source}: expected a JSON object")
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise InvalidArgument(f"{source}: unknown configuration key(s): {', '.join(unknown)}")
    _check_types(raw, source)
    _check_storage_opts(raw.get("storage-opts") or [], source)
    if raw.get("storage-driver", "overlay2") not in ("overlay2", "overlay"):
        raise InvalidArgument(f"{source}: storage-driver {raw['storage-driver']!r} is not supported (overlay2)")
    if raw.get("bridge", "none") != "none":  # dockerd's "none" is the only setting that matches what pallet does
        raise InvalidArgument(f"{source}: bridge {raw['bridge']!r} is not supported: pallet has no bridge "
                              "network yet (use \"none\")")
    ulimits = []
    for name, spec in (raw.get("default-ulimits") or {}).items():
        if name not in ULIMITS or not isinstance(spec, dict):
            raise InvalidArgument(f"{source}: default-ulimits: invalid entry {name!r}")
        soft, hard = spec.get("Soft", spec.get("soft")), spec.get("Hard", spec.get("hard"))
        if not isinstance(soft, int) or not isinstance(hard, int):
            raise InvalidArgument(f"{source}: default-ulimits.{name}: Soft and Hard must be integers")
        ulimits.append(Ulimit(name, soft, hard))
    log_opts = raw.get("log-opts") or {}
    bad_log = sorted(set(log_opts) - {"max-size", "max-file", "compress", "labels", "env", "tag", "mode"})
    if bad_log:
        raise InvalidArgument(f"{source}: log-opts: unknown option(s): {', '.join(bad_log)}")
    driver = raw.get("log-driver", "json-file")
    if driver not in LOG_DRIVERS:
        raise InvalidArgument(f"{source}: log-driver {driver!r} is not supported ({', '.join(LOG_DRIVERS)})")
    try:
        max_file = int(log_opts.get("max-file", 3))
    except ValueError:
        raise InvalidArgument(f"{source}: log-opts.max-file must be an integer") from None
    if max_file < 1:
        raise InvalidArgument(f"{source}: log-opts.max-file must be at least 1, not {max_file}")
    runtimes = raw.get("runtimes") or {}
    if not isinstance(runtimes, dict) or any(not isinstance(v, dict) for v in runtimes.values()):
        raise InvalidArgument(f"{source}: runtimes must map names to {{\"path\": ...}}")
    bridge = raw.get("bridge", "none")
    ipc_mode = raw.get("default-ipc-mode") or "private"
    if ipc_mode not in ("private", "shareable"):  # dockerd takes only these two as a default
        raise InvalidArgument(f"{source}: default-ipc-mode {ipc_mode!r} is not valid: expected private or shareable")
    return DaemonConfig(
        default_ulimits=tuple(ulimits),
        default_runtime=raw.get("default-runtime", ""),
        runtimes=runtimes,
        storage_opts=tuple(raw.get("storage-opts") or ()),
        log_driver=driver,
        log_max_size=parse_size(str(log_opts["max-size"]), "log-opts.max-size") if "max-size" in log_opts else 10 << 20,
        log_max_file=max_file,
        live_restore=True,
        default_shm_size=parse_size(str(raw["default-shm-size"]), "default-shm-size") if "default-shm-size" in raw else 64 << 20,
        default_ipc_mode=ipc_mode,
        bridge=bridge,
        registry_mirrors=tuple(raw.get("registry-mirrors") or ()),
        proxies=raw.get("proxies") or {},
        seccomp_profile=raw.get("seccomp-profile", ""),
        no_new_privileges=bool(raw.get("no-new-privileges", False)),
        init=bool(raw.get("init", False)),
        raw=raw,
    )


def load(path: str, *, required: bool = False) -> DaemonConfig:
    """The config at `path`; a missing file means defaults unless `required` (an explicit --config)."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        if required:
            raise InvalidArgument(f"config file {path} does not exist") from None
        return DaemonConfig()
    except (OSError, UnicodeDecodeError) as exc:  # a directory, unreadable, not text: one line, not a traceback
        cause = getattr(exc, "strerror", None) or str(exc)
        raise InvalidArgument(f"config file {path}: {cause[:1].lower()}{cause[1:]}") from None
    return parse(text, path)
