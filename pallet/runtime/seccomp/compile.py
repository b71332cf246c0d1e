"""compile_filter: OCI `linux.seccomp` JSON -> SeccompProgram, with an in-memory and an on-disk cache.

Runs in the runtime's parent, before fork. The cache key is a BLAKE2b-256 of
the canonical JSON, the backend, the machine (uname arch) and the identity
(size, mtime) of the compiler's own sources, so a profile compiled once
loads in about a millisecond (one small file read) afterwards, and an
edited compiler or syscall table never reuses an old program.

An on-disk entry is `magic, flags, BLAKE2b-128 of both, program`,
written to a temp file, fsynced and renamed into place (convention 9): a
reader sees a whole entry or none. One that fails the magic, the size or
the digest (a torn write on another kernel, a foreign file, bit rot) is
ignored and replaced by a fresh compile; a cache that can't be read or
written only costs the compile, never the container. The directory keeps
at most MAX_ENTRIES programs (the oldest go first).
"""

from __future__ import annotations

import _json
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
CACHE_VERSION = 4  # bump whenever bpf.py's output for a profile changes (the sources' identity is keyed too)
_MAGIC = b"PSC3"
_HEADER = struct.Struct("=4sI16s")  # magic, flags, BLAKE2b-128 of flags and program
MAX_ENTRIES = 64
# What decides a program besides the profile: changing any of these files changes the key.
_SOURCES = ("bpf.py", "plan.py", "syscalls.py", "syscall_tables.py", "libseccomp.py", "enosys.py", "compile.py")

_memory: dict[str, SeccompProgram] = {}
_sources_id: str | None = None


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


def _compiler_id() -> str:
    """(size, mtime) of the compiler's sources: a few stat calls, once per process."""
    global _sources_id
    if _sources_id is None:
        here = os.path.dirname(os.path.abspath(__file__))
        parts = []
        for name in _SOURCES:
            try:
                st = os.stat(os.path.join(here, name))
                parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                parts.append(f"{name}:-")
        _sources_id = ",".join(parts)
    return _sources_id


def _not_json(o):
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


# json.dumps(sort_keys=True, separators=(",", ":")) through the C encoder: the json package
# imports re (~7 ms with enum), and a cache hit is meant to cost about a millisecond.
_canonical = _json.make_encoder(None, _not_json, _json.encode_basestring_ascii, None, ":", ",", True, False, True)


def cache_key(seccomp_json: dict, backend: str) -> str:
    canon = "".join(_canonical(seccomp_json, 0))
    text = f"{CACHE_VERSION}\0{backend}\0{os.uname().machine}\0{_compiler_id()}\0{canon}"
    return _hash(text.encode(), digest_size=32).hexdigest()


def _digest(flags: int, bpf: bytes) -> bytes:
    return _hash(struct.pack("=I", flags) + bpf, digest_size=16).digest()


def _load(path: str, backend: str) -> SeccompProgram | None:
    """The cached program, or None when it is missing, unreadable or not intact."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) <= _HEADER.size or (len(data) - _HEADER.size) % 8:
        return None
    magic, flags, digest = _HEADER.unpack_from(data)
    bpf = data[_HEADER.size:]
    if magic != _MAGIC or digest != _digest(flags, bpf):
        return None
    return SeccompProgram(bpf=bpf, flags=flags, backend=backend)


def _store(path: str, prog: SeccompProgram) -> None:
    """Write atomically; a cache we can't write is skipped, not an error."""
    d = os.path.dirname(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(d, 0o700, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, _HEADER.pack(_MAGIC, prog.flags, _digest(prog.flags, prog.bpf)) + prog.bpf)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    _prune(d)


def _prune(d: str) -> None:
    try:
        entries = [e for e in os.scandir(d) if e.name.endswith(".bpf")]
        if len(entries) <= MAX_ENTRIES:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for e in entries[:len(entries) - MAX_ENTRIES]:
            os.unlink(e.path)
    except OSError:
        pass  # a racing writer or pruner: the next store tries again


def compile_filter(
    seccomp_json: dict,
    *,
    cache_dir: str | None = None,
    backend: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> SeccompProgram:
    """Compile OCI `linux.seccomp`; raise InvalidArgument naming the bad field.

    `cache_dir` (created if missing) keeps compiled programs across
    processes; without it only this process's memory cache is used. A
    cache hit skips the compile and so its warnings (unknown names).
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
            _store(path, prog)
    _memory[key] = prog
    return prog


def clear_memory_cache() -> None:
    _memory.clear()
