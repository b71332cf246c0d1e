"""The OCI runtime spec's config.json as frozen, typed values.

`Spec.from_json(dict)` validates and names the bad field:
"config.json: process.args: must be a list of strings". `load(bundle)`
reads `<bundle>/config.json`. `linux.resources` and `linux.seccomp` stay
raw dicts: pallet.oci.resources / pallet.oci.seccomp own their parsing.

Why not `dataclasses`: importing it costs ~20 ms on the target machine
(it pulls in inspect, re, ...), more than half of runc's whole `run`, and
this module is on the hot path of every `pallet-runtime run`. `frozen`
(pallet.values) gives the same value semantics (keyword-only init, repr, eq, hash,
immutability, `replace`) for plain annotated classes; swapping it for
`dataclasses.dataclass(frozen=True, kw_only=True)` is a one-line change.
The same reason makes `loads`/`dumps` use the C scanner of `_json`
directly: the `json` package imports `re`.
"""

from __future__ import annotations

import _json
import os

from pallet.errors import InvalidArgument, NotFound
from pallet.values import frozen

# ---------------------------------------------------------------- JSON without `re`


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo: dict = {}

    @staticmethod
    def parse_constant(name):
        return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_scan = _json.make_scanner(_ScanContext)
_WS = " \t\n\r"


def loads(text: str):
    """json.loads for documents (raises ValueError with the position)."""
    i = 0
    n = len(text)
    while i < n and text[i] in _WS:
        i += 1
    try:
        value, end = _scan(text, i)
    except (StopIteration, SystemError):
        # Bad JSON: the C scanner reports through json.decoder, which it expects already
        # imported; let the json package parse it again and word the error.
        import json

        json.loads(text)
        raise ValueError("invalid JSON") from None
    finally:
        _ScanContext.memo.clear()
    while end < n and text[end] in _WS:
        end += 1
    if end != n:
        raise ValueError(f"extra data at offset {end}")
    return value


def _encode_default(o):
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


_encode = _json.make_encoder(None, _encode_default, _json.encode_basestring_ascii, None, ": ", ", ", False, False, True)


def dumps(obj) -> str:
    return "".join(_encode(obj, 0))


# ---------------------------------------------------------------- field readers


def _bad(path: str, what: str) -> InvalidArgument:
    return InvalidArgument(f"config.json: {path}: {what}")


def _obj(d, path: str) -> dict:
    if not isinstance(d, dict):
        raise _bad(path, "must be an object")
    return d


def _str(d: dict, key: str, path: str, default: str | None = None, required: bool = False) -> str | None:
    v = d.get(key)
    if v is None:
        if required:
            raise _bad(f"{path}{key}", "is required")
        return default
    if not isinstance(v, str):
        raise _bad(f"{path}{key}", "must be a string")
    return v


def _bool(d: dict, key: str, path: str) -> bool:
    v = d.get(key, False)
    if v is None:
        return False
    if not isinstance(v, bool):
        raise _bad(f"{path}{key}", "must be a boolean")
    return v


def _int(d: dict, key: str, path: str, default: int | None = None, required: bool = False, minimum: int | None = None) -> int | None:
    v = d.get(key)
    if v is None:
        if required:
            raise _bad(f"{path}{key}", "is required")
        return default
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad(f"{path}{key}", "must be an integer")
    if minimum is not None and v < minimum:
        raise _bad(f"{path}{key}", f"must be >= {minimum}")
    return v


def _strs(d: dict, key: str, path: str) -> tuple[str, ...]:
    v = d.get(key)
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise _bad(f"{path}{key}", "must be a list of strings")
    return tuple(v)


def _list(d: dict, key: str, path: str) -> list:
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise _bad(f"{path}{key}", "must be a list")
    return v


def _str_map(d: dict, key: str, path: str) -> dict[str, str]:
    v = d.get(key)
    if v is None:
        return {}
    if not isinstance(v, dict) or not all(isinstance(x, str) for x in v.values()):
        raise _bad(f"{path}{key}", "must be an object of strings")
    return dict(v)


# ---------------------------------------------------------------- the model


@frozen
class User:
    uid: int
    gid: int
    umask: int | None = None
    additional_gids: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, d, path: str = "process.user.") -> User:
        d = _obj(d, path.rstrip("."))
        gids = _list(d, "additionalGids", path)
        if not all(isinstance(g, int) and not isinstance(g, bool) and g >= 0 for g in gids):
            raise _bad(f"{path}additionalGids", "must be a list of non-negative integers")
        return cls(
            uid=_int(d, "uid", path, required=True, minimum=0),
            gid=_int(d, "gid", path, required=True, minimum=0),
            umask=_int(d, "umask", path, minimum=0),
            additional_gids=tuple(gids),
        )


@frozen
class Capabilities:
    bounding: tuple[str, ...] = ()
    effective: tuple[str, ...] = ()
    inheritable: tuple[str, ...] = ()
    permitted: tuple[str, ...] = ()
    ambient: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d, path: str = "process.capabilities.") -> Capabilities:
        # Names are checked against the kernel's table by the runtime (pallet.linux is a sibling layer).
        d = _obj(d, path.rstrip("."))
        return cls(**{key: _strs(d, key, path) for key in ("bounding", "effective", "inheritable", "permitted", "ambient")})


@frozen
class Rlimit:
    type: str
    soft: int
    hard: int


RLIMIT_TYPES = (
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
)


def _rlimit(d, path: str) -> Rlimit:
    d = _obj(d, path.rstrip("."))
    kind = _str(d, "type", path, required=True)
    if kind not in RLIMIT_TYPES:
        raise _bad(f"{path}type", f"unknown rlimit {kind!r}")
    soft = _int(d, "soft", path, required=True, minimum=0)
    hard = _int(d, "hard", path, required=True, minimum=0)
    if soft > hard:
        raise _bad(path.rstrip("."), f"{kind}: soft limit {soft} is above hard limit {hard}")
    return Rlimit(type=kind, soft=soft, hard=hard)


@frozen
class Process:
    args: tuple[str, ...]
    cwd: str
    user: User
    env: tuple[str, ...] = ()
    terminal: bool = False
    console_size: tuple[int, int] | None = None  # (height, width)
    capabilities: Capabilities | None = None
    rlimits: tuple[Rlimit, ...] = ()
    no_new_privileges: bool = False
    apparmor_profile: str = ""
    selinux_label: str = ""
    oom_score_adj: int | None = None

    @classmethod
    def from_json(cls, d, path: str = "process.") -> Process:
        d = _obj(d, path.rstrip("."))
        args = _strs(d, "args", path)
        if not args and "commandLine" not in d:
            raise _bad(f"{path}args", "must be a non-empty list of strings")
        cwd = _str(d, "cwd", path, required=True)
        if not cwd.startswith("/"):
            raise _bad(f"{path}cwd", f"must be an absolute path, not {cwd!r}")
        console = d.get("consoleSize")
        size = None
        if console is not None:
            console = _obj(console, f"{path}consoleSize")
            size = (_int(console, "height", f"{path}consoleSize.", required=True, minimum=0),
                    _int(console, "width", f"{path}consoleSize.", required=True, minimum=0))
        for e in _strs(d, "env", path):
            if "=" not in e:
                raise _bad(f"{path}env", f"{e!r} is not KEY=VALUE")
        caps = d.get("capabilities")
        return cls(
            args=args,
            cwd=cwd,
            user=User.from_json(d.get("user") if d.get("user") is not None else {"uid": 0, "gid": 0}, f"{path}user."),
            env=_strs(d, "env", path),
            terminal=_bool(d, "terminal", path),
            console_size=size,
            capabilities=None if caps is None else Capabilities.from_json(caps, f"{path}capabilities."),
            rlimits=tuple(_rlimit(r, f"{path}rlimits[{i}].") for i, r in enumerate(_list(d, "rlimits", path))),
            no_new_privileges=_bool(d, "noNewPrivileges", path),
            apparmor_profile=_str(d, "apparmorProfile", path, ""),
            selinux_label=_str(d, "selinuxLabel", path, ""),
            oom_score_adj=_int(d, "oomScoreAdj", path),
        )


@frozen
class Root:
    path: str
    readonly: bool = False


@frozen
class Mount:
    destination: str
    type: str = ""
    source: str = ""
    options: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d, path: str) -> Mount:
        d = _obj(d, path.rstrip("."))
        dest = _str(d, "destination", path, required=True)
        if not dest.startswith("/"):
            raise _bad(f"{path}destination", f"must be an absolute path, not {dest!r}")
        return cls(destination=dest, type=_str(d, "type", path, ""), source=_str(d, "source", path, ""), options=_strs(d, "options", path))


@frozen
class Hook:
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None

    @classmethod
    def from_json(cls, d, path: str) -> Hook:
        d = _obj(d, path.rstrip("."))
        p = _str(d, "path", path, required=True)
        if not p.startswith("/"):
            raise _bad(f"{path}path", f"must be an absolute path, not {p!r}")
        timeout = _int(d, "timeout", path)
        if timeout is not None and timeout <= 0:
            raise _bad(f"{path}timeout", "must be greater than zero")
        return cls(path=p, args=_strs(d, "args", path), env=_strs(d, "env", path), timeout=timeout)


HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


@frozen
class Hooks:
    """Hook lists keyed by the spec's names (prestart, createRuntime, ...)."""

    by_kind: dict[str, tuple[Hook, ...]]

    def get(self, kind: str) -> tuple[Hook, ...]:
        return self.by_kind.get(kind, ())

    @classmethod
    def from_json(cls, d, path: str = "hooks.") -> Hooks:
        d = _obj(d, path.rstrip("."))
        return cls(by_kind={
            kind: tuple(Hook.from_json(h, f"{path}{kind}[{i}].") for i, h in enumerate(_list(d, kind, path)))
            for kind in HOOK_KINDS if d.get(kind)
        })


@frozen
class Namespace:
    type: str
    path: str = ""


NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")


@frozen
class IDMapping:
    container_id: int
    host_id: int
    size: int


@frozen
class Device:
    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def _id_mappings(d: dict, key: str, path: str) -> tuple[IDMapping, ...]:
    out = []
    for i, m in enumerate(_list(d, key, path)):
        p = f"{path}{key}[{i}]."
        m = _obj(m, p.rstrip("."))
        out.append(IDMapping(
            container_id=_int(m, "containerID", p, required=True, minimum=0),
            host_id=_int(m, "hostID", p, required=True, minimum=0),
            size=_int(m, "size", p, required=True, minimum=1),
        ))
    return tuple(out)


@frozen
class Linux:
    namespaces: tuple[Namespace, ...] = ()
    uid_mappings: tuple[IDMapping, ...] = ()
    gid_mappings: tuple[IDMapping, ...] = ()
    devices: tuple[Device, ...] = ()
    cgroups_path: str | None = None
    resources: dict | None = None  # parsed by pallet.oci.resources / pallet.cgroups
    seccomp: dict | None = None  # compiled by pallet.runtime.seccomp
    sysctl: dict[str, str] = {}
    rootfs_propagation: str = ""
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    mount_label: str = ""

    def namespace(self, kind: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.type == kind:
                return ns
        return None

    @classmethod
    def from_json(cls, d, path: str = "linux.") -> Linux:
        d = _obj(d, path.rstrip("."))
        namespaces = []
        seen = set()
        for i, n in enumerate(_list(d, "namespaces", path)):
            p = f"{path}namespaces[{i}]."
            n = _obj(n, p.rstrip("."))
            kind = _str(n, "type", p, required=True)
            if kind not in NAMESPACE_TYPES:
                raise _bad(f"{p}type", f"unknown namespace type {kind!r}")
            if kind in seen:
                raise _bad(f"{p}type", f"duplicate namespace {kind!r}")
            seen.add(kind)
            namespaces.append(Namespace(type=kind, path=_str(n, "path", p, "")))
        devices = []
        for i, dev in enumerate(_list(d, "devices", path)):
            p = f"{path}devices[{i}]."
            dev = _obj(dev, p.rstrip("."))
            kind = _str(dev, "type", p, required=True)
            if kind not in ("c", "b", "u", "p"):
                raise _bad(f"{p}type", f"must be one of c, b, u, p, not {kind!r}")
            dpath = _str(dev, "path", p, required=True)
            if not dpath.startswith("/"):
                raise _bad(f"{p}path", f"must be an absolute path, not {dpath!r}")
            devices.append(Device(
                type=kind, path=dpath,
                major=_int(dev, "major", p, 0, required=kind != "p"),
                minor=_int(dev, "minor", p, 0, required=kind != "p"),
                file_mode=_int(dev, "fileMode", p), uid=_int(dev, "uid", p), gid=_int(dev, "gid", p),
            ))
        prop = _str(d, "rootfsPropagation", path, "")
        if prop and prop not in ROOTFS_PROPAGATION:
            raise _bad(f"{path}rootfsPropagation", f"unknown propagation {prop!r}")
        res = d.get("resources")
        if res is not None:
            _obj(res, f"{path}resources")
        sec = d.get("seccomp")
        if sec is not None:
            _obj(sec, f"{path}seccomp")
        return cls(
            namespaces=tuple(namespaces),
            uid_mappings=_id_mappings(d, "uidMappings", path),
            gid_mappings=_id_mappings(d, "gidMappings", path),
            devices=tuple(devices),
            cgroups_path=_str(d, "cgroupsPath", path),
            resources=res,
            seccomp=sec,
            sysctl=_str_map(d, "sysctl", path),
            rootfs_propagation=prop,
            masked_paths=_strs(d, "maskedPaths", path),
            readonly_paths=_strs(d, "readonlyPaths", path),
            mount_label=_str(d, "mountLabel", path, ""),
        )


ROOTFS_PROPAGATION = ("shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable")


@frozen
class Spec:
    oci_version: str
    root: Root
    process: Process | None = None
    hostname: str = ""
    domainname: str = ""
    mounts: tuple[Mount, ...] = ()
    hooks: Hooks | None = None
    annotations: dict[str, str] = {}
    linux: Linux = Linux()

    @classmethod
    def from_json(cls, d) -> Spec:
        d = _obj(d, "(top level)")
        version = _str(d, "ociVersion", "", required=True)
        root = d.get("root")
        if root is None:
            raise _bad("root", "is required")
        root = _obj(root, "root")
        proc = d.get("process")
        hooks = d.get("hooks")
        linux = d.get("linux")
        return cls(
            oci_version=version,
            root=Root(path=_str(root, "path", "root.", required=True), readonly=_bool(root, "readonly", "root.")),
            process=None if proc is None else Process.from_json(proc),
            hostname=_str(d, "hostname", "", ""),
            domainname=_str(d, "domainname", "", ""),
            mounts=tuple(Mount.from_json(m, f"mounts[{i}].") for i, m in enumerate(_list(d, "mounts", ""))),
            hooks=None if hooks is None else Hooks.from_json(hooks),
            annotations=_str_map(d, "annotations", ""),
            linux=Linux() if linux is None else Linux.from_json(linux),
        )


def read_json_file(path: str, label: str):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise NotFound(f"{label}: no such file or directory") from None
    except OSError as exc:
        raise InvalidArgument(f"{label}: {exc.strerror}") from None
    try:
        return loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"{label}: invalid JSON: {exc}") from None


def load(bundle: str) -> Spec:
    """Read and validate <bundle>/config.json."""
    if not os.path.isdir(bundle):
        raise NotFound(f"bundle {bundle}: no such directory")
    return Spec.from_json(read_json_file(os.path.join(bundle, "config.json"), "config.json"))
