"""The default profile (default.json) and Docker's seccomp format, both resolved to OCI `linux.seccomp`.

Both formats gate rules on the container's capabilities, the architecture
and the kernel; resolving them is a pure function of (profile, caps, arch,
kernel). Docker's semantics, kept here:

- `includes.caps`: every listed capability must be present;
  `excludes.caps`: any listed capability present drops the rule;
- `includes.arches` / `excludes.arches`: Go's names of the native arch
  ("amd64", "arm64", ...);
- `includes.minKernel`: "major.minor" the running kernel must reach;
- `archMap`: the native arch and its sub-architectures become
  `architectures` (older profiles give `architectures` directly);
- a rule's legacy `name` is `names: [name]`.
"""

from __future__ import annotations

import os
TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~4 ms)
if TYPE_CHECKING:
    from typing import Any

from pallet.errors import InvalidArgument
from pallet.fastjson import loads

# uname machine -> (Go's GOARCH name, Docker's arch names that match it)
GOARCH: dict[str, str] = {
    "x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64": "mips64",
}
# Go arch name -> the libseccomp arch token of that native arch.
NATIVE_SCMP_ARCH: dict[str, str] = {
    "amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM", "386": "SCMP_ARCH_X86",
    "ppc64le": "SCMP_ARCH_PPC64LE", "s390x": "SCMP_ARCH_S390X", "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
}
# Our default.json spells arches as uname does; these are the same in Go's names.
_DEFAULT_ARCH_ALIASES: dict[str, str] = {"x86_64": "amd64", "aarch64": "arm64"}

_DEFAULT_PATH = os.path.join(os.path.dirname(__file__), "default.json")


def _cap_set(capabilities: list[str] | None) -> set[str]:
    caps = set()
    for c in capabilities or ():
        c = c.upper()
        caps.add(c if c.startswith("CAP_") else f"CAP_{c}")
    return caps


def _kernel_tuple(release: str) -> tuple[int, int]:
    parts = release.split("-")[0].split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise InvalidArgument(f"minKernel: {release!r} is not a kernel version") from None


def _goarch(arch: str) -> str:
    return GOARCH.get(arch, arch)


def _rule_out(names: list[str], action: str, r: dict) -> dict:
    out: dict[str, Any] = {"names": list(names), "action": action}
    if r.get("errnoRet") is not None:
        out["errnoRet"] = r["errnoRet"]
    if r.get("args"):
        out["args"] = [
            {"index": a["index"], "value": a.get("value", 0), "valueTwo": a.get("valueTwo", 0), "op": a["op"]}
            for a in r["args"]
        ]
    return out


def default_profile(capabilities: list[str] | None = None, arch: str | None = None, kernel: str | None = None) -> dict:
    """pallet's Docker-equivalent default profile as OCI `linux.seccomp`, for these effective capabilities."""
    with open(_DEFAULT_PATH, "rb") as f:
        data = loads(f.read())
    arch = arch or os.uname().machine
    goarch = _goarch(arch)
    caps = _cap_set(capabilities)
    kver = _kernel_tuple(kernel or os.uname().release)

    def arch_in(names: list[str]) -> bool:
        return goarch in {_DEFAULT_ARCH_ALIASES.get(a, a) for a in names}

    syscalls = [{"names": [n for group in data["allow"].values() for n in group], "action": "SCMP_ACT_ALLOW"}]
    for r in data["rules"]:
        if not set(r.get("caps", ())) <= caps or set(r.get("notCaps", ())) & caps:
            continue
        if "arches" in r and not arch_in(r["arches"]):
            continue
        if "notArches" in r and arch_in(r["notArches"]):
            continue
        if "minKernel" in r and kver < _kernel_tuple(r["minKernel"]):
            continue
        if "allow" in r:
            syscalls.append({"names": list(r["allow"]), "action": "SCMP_ACT_ALLOW"})
        else:
            syscalls.append(_rule_out(r["names"], r["action"], r))
    out: dict[str, Any] = {"defaultAction": data["defaultAction"], "defaultErrnoRet": data["defaultErrnoRet"]}
    arches = data["arches"].get(arch)
    if arches:
        out["architectures"] = list(arches)
    out["syscalls"] = syscalls
    return out


def _field(d: Any, path: str, kind: type) -> Any:
    if not isinstance(d, kind):
        raise InvalidArgument(f"{path}: {d!r} is not {'an object' if kind is dict else 'a list'}")
    return d


def docker_profile_to_oci(
    docker_json: dict, capabilities: list[str] | None = None, arch: str | None = None, kernel: str | None = None
) -> dict:
    """Convert Docker's seccomp profile format to OCI `linux.seccomp` for (caps, arch, kernel); None = this host's."""
    p = "seccomp profile"
    _field(docker_json, p, dict)
    if "defaultAction" not in docker_json:
        raise InvalidArgument(f"{p}.defaultAction: missing")
    goarch = _goarch(arch or os.uname().machine)
    caps = _cap_set(capabilities)
    kver = _kernel_tuple(kernel or os.uname().release)
    out: dict[str, Any] = {"defaultAction": docker_json["defaultAction"]}
    if docker_json.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = docker_json["defaultErrnoRet"]

    arches: list[str] = []
    if docker_json.get("archMap") and docker_json.get("architectures"):
        raise InvalidArgument(f"{p}: 'architectures' and 'archMap' are exclusive")
    native = NATIVE_SCMP_ARCH.get(goarch)
    for i, m in enumerate(_field([] if docker_json.get("archMap") is None else docker_json["archMap"], f"{p}.archMap", list)):
        _field(m, f"{p}.archMap[{i}]", dict)
        if m.get("architecture") == native:
            arches = [m["architecture"], *(m.get("subArchitectures") or [])]
    arches = arches or list(docker_json.get("architectures") or [])
    if arches:
        out["architectures"] = arches
    for key, okey in (("flags", "flags"), ("listenerPath", "listenerPath"), ("listenerMetadata", "listenerMetadata")):
        if docker_json.get(key):
            out[okey] = docker_json[key]

    syscalls = []
    for i, r in enumerate(_field([] if docker_json.get("syscalls") is None else docker_json["syscalls"], f"{p}.syscalls", list)):
        rp = f"{p}.syscalls[{i}]"
        _field(r, rp, dict)
        names = r.get("names") or ([r["name"]] if r.get("name") else [])
        if not names:
            raise InvalidArgument(f"{rp}.names: missing or empty")
        if "action" not in r:
            raise InvalidArgument(f"{rp}.action: missing")
        inc = _field(r.get("includes") or {}, f"{rp}.includes", dict)
        exc = _field(r.get("excludes") or {}, f"{rp}.excludes", dict)
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if inc.get("arches") and goarch not in inc["arches"]:
            continue
        if inc.get("minKernel") and kver < _kernel_tuple(inc["minKernel"]):
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        if exc.get("arches") and goarch in exc["arches"]:
            continue
        if exc.get("minKernel") and kver >= _kernel_tuple(exc["minKernel"]):
            continue
        for j, a in enumerate(r.get("args") or []):
            _field(a, f"{rp}.args[{j}]", dict)
            for k in ("index", "op"):
                if k not in a:
                    raise InvalidArgument(f"{rp}.args[{j}].{k}: missing")
        syscalls.append(_rule_out(names, r["action"], r))
    out["syscalls"] = syscalls
    return out
