"""compile_filter: OCI `linux.seccomp` JSON -> SeccompProgram, with an in-memory and an on-disk cache.

Runs in the runtime's parent, before fork. The cache key is a BLAKE2b-256 of
the canonical JSON, the backend and the machine, so a profile compiled
once loads in about a millisecond (one small file read) afterwards.
On-disk entries are written to a temp file and renamed (convention 9).
"""

from __future__ import annotations

import json
import os
import struct

from pallet.errors import InvalidArgument
from pallet.runtime.seccomp.program import SeccompProgram

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~4 ms)
if TYPE_CHECKING:
    from typing import Callable

try:  # blake2b without hashlib's OpenSSL load (~6 ms at import); same digest either way
    from _blake2 import blake2b as _hash
except ImportError:  # pragma: no cover - CPython always has it
    from hashlib import blake2b as _hash

# Our compiler has the x86 syscall tables only; other hosts use libseccomp.
DEFAULT_BACKEND = "pallet" if os.uname().machine == "x86_64" else "libseccomp"
CACHE_VERSION = 2  # bump whenever bpf.py's output for a profile changes
_MAGIC = b"PSC1"
_HEADER = struct.Struct("=4sI")  # magic, flags

_memory: dict[str, SeccompProgram] = {}


# Backends import lazily: a cache hit needs neither the model nor a compiler.
def _backend_pallet(spec, warn) -> bytes:
    from pallet.runtime.seccomp import bpf, syscalls
    from pallet.runtime.seccomp.plan import make_plan

    plan = make_plan(spec, syscalls.known_for(spec.architectures), warn)
    return bpf.compile_plan(plan)


def _backend_libseccomp(spec, warn) -> bytes:
    from pallet.oci.seccomp import ARCHES
    from pallet.runtime.seccomp import libseccomp
    from pallet.runtime.seccomp.plan import make_plan

    arches = [ARCHES[a] for a in spec.architectures] or [libseccomp.lib().seccomp_arch_native()]
    plan = make_plan(spec, lambda n: any(libseccomp.resolve(n, a) is not None for a in arches), warn)
    return libseccomp.compile_plan(plan)


BACKENDS: dict[str, Callable] = {"pallet": _backend_pallet, "libseccomp": _backend_libseccomp}


def cache_key(seccomp_json: dict, backend: str) -> str:
    canon = json.dumps(seccomp_json, sort_keys=True, separators=(",", ":"))
    return _hash(f"{CACHE_VERSION}\0{backend}\0{os.uname().machine}\0{canon}".encode(), digest_size=32).hexdigest()


def _load(path: str, backend: str) -> SeccompProgram | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if len(data) <= _HEADER.size or (len(data) - _HEADER.size) % 8:
        return None
    magic, flags = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        return None
    return SeccompProgram(bpf=data[_HEADER.size:], flags=flags, backend=backend)


def _store(path: str, prog: SeccompProgram) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        f.write(_HEADER.pack(_MAGIC, prog.flags) + prog.bpf)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def compile_filter(
    seccomp_json: dict,
    *,
    cache_dir: str | None = None,
    backend: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> SeccompProgram:
    """Compile OCI `linux.seccomp`; raise InvalidArgument naming the bad field.

    `cache_dir` (created if missing) keeps compiled programs across
    processes; without it only this process's memory cache is used.
    """
    backend = backend or DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise InvalidArgument(f"seccomp backend {backend!r} is unknown (one of {', '.join(BACKENDS)})")
    if not isinstance(seccomp_json, dict):
        raise InvalidArgument(f"linux.seccomp: {type(seccomp_json).__name__} is not an object")
    key = cache_key(seccomp_json, backend)
    prog = _memory.get(key)
    if prog is not None:
        return prog
    path = os.path.join(cache_dir, f"{key}.bpf") if cache_dir else None
    if path:
        prog = _load(path, backend)
    if prog is None:
        from pallet.oci.seccomp import Seccomp
        from pallet.runtime.seccomp.plan import filter_flags

        spec = Seccomp.from_json(seccomp_json)
        bpf = BACKENDS[backend](spec, warn)
        prog = SeccompProgram(bpf=bpf, flags=filter_flags(spec), backend=backend)
        if path:
            os.makedirs(cache_dir, exist_ok=True)
            _store(path, prog)
    _memory[key] = prog
    return prog


def clear_memory_cache() -> None:
    _memory.clear()
