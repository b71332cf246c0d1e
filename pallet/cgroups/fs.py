"""Reading and writing cgroup files: one line errors naming the file.

Every controller module writes through `write_plan` (the executor of a
plan) and reads through the `read_*` helpers, so errors look the same
everywhere: "cgroup /sys/fs/cgroup/memory/pallet/x/memory.limit_in_bytes:
write '1k': Device or resource busy".
"""

from __future__ import annotations

import errno
import os

# A plan: the files to write, in order. Pairs rather than a dict because
# v1 wants one write per device for the same file (blkio.throttle.*) and
# the order across files matters (cfs_period before cfs_quota).
Plan = list[tuple[str, str]]

from pallet.errors import InvalidArgument, PalletError, Unavailable

# Errors a write can meet, and what they usually mean for a cgroup file.
WRITE_HINTS: dict[int, str] = {
    errno.EBUSY: "the value conflicts with the current usage or a related limit",
    errno.EINVAL: "the kernel refused the value",
    errno.ENOSPC: "no cpus/mems in the cpuset, or a limit was reached",
    errno.EOPNOTSUPP: "the kernel does not support this file",
    errno.ENOENT: "the file does not exist on this kernel",
    errno.EPERM: "not permitted",
}


def write(dir: str, name: str, value: str | int) -> None:
    path = os.path.join(dir, name)
    text = str(value)
    try:
        # O_TRUNC: cgroupfs ignores it (as for `echo > file`), a test tree needs it.
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
    except FileNotFoundError:
        raise Unavailable(f"cgroup {path}: missing, the kernel or hierarchy lacks it") from None
    try:
        while True:
            try:
                os.write(fd, text.encode())
                return
            except InterruptedError:
                continue
            except OSError as exc:
                hint = WRITE_HINTS.get(exc.errno or 0, "")
                cls = InvalidArgument if exc.errno in (errno.EINVAL, errno.ERANGE) else PalletError
                raise cls(f"cgroup {path}: write {text!r}: {exc.strerror}"
                          + (f" ({hint})" if hint else "")) from None
    finally:
        os.close(fd)


def write_plan(dir: str, plan: Plan | dict[str, str]) -> None:
    """Apply a plan: files written in the plan's order."""
    for name, value in plan.items() if isinstance(plan, dict) else plan:
        write(dir, name, value)


def exists(dir: str, name: str) -> bool:
    return os.path.exists(os.path.join(dir, name))


def read(dir: str, name: str) -> str:
    # os.read, not open(): no buffered text stream built for a few bytes of a control file.
    fd = os.open(os.path.join(dir, name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
    finally:
        os.close(fd)


def read_optional(dir: str, name: str) -> str | None:
    try:
        return read(dir, name)
    except (FileNotFoundError, OSError):
        return None


def parse_uint(text: str) -> int:
    """A counter or limit; "max" (v2) and v1's 2**63-ish "unlimited" stay as is."""
    text = text.strip()
    if text == "max":
        return 2**64 - 1
    return int(text)


def read_uint(dir: str, name: str, default: int = 0) -> int:
    text = read_optional(dir, name)
    if text is None or not text.strip():
        return default
    return parse_uint(text)


def parse_kv(text: str) -> dict[str, int]:
    """"key value" lines (memory.stat, cpu.stat, memory.events...)."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def read_kv(dir: str, name: str) -> dict[str, int]:
    text = read_optional(dir, name)
    return parse_kv(text) if text else {}


def read_pids(dir: str, name: str = "cgroup.procs") -> list[int]:
    text = read_optional(dir, name) or ""
    return [int(p) for p in text.split()]
