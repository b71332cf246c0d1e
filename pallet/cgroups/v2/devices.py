"""v2 devices: an eBPF device program attached to the container's cgroup.

Replacing the rules (an `update`) attaches the new program with
BPF_F_ALLOW_MULTI and then detaches the old ones, so there is no moment
without a filter (runc does the same). With several programs the kernel
needs all of them to allow, so leaving an old one would keep its denials.
"""

from __future__ import annotations

import os

from pallet.cgroups.devices import effective
from pallet.cgroups.v2.device_program import compile_program, encode
from pallet.errors import PalletError
from pallet.linux import bpf
from pallet.oci.resources import LinuxResources

NAME = "devices"
PROG, ATTACH = "BPF_PROG_TYPE_CGROUP_DEVICE", "BPF_CGROUP_DEVICE"


def plan(res: LinuxResources, *, defaults: bool = True) -> bytes:
    """The program's bytes (empty when the spec names no devices and no defaults apply)."""
    if res.devices is None and not defaults:
        return b""
    return encode(compile_program(effective(res.devices, defaults=defaults)))


def attach(dir: str, code: bytes) -> None:
    dfd = os.open(dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            prog = bpf.prog_load(PROG, code, license="Apache")
        except OSError as exc:
            raise PalletError(f"cgroup {dir}: loading the device program: {exc.strerror}") from None
        try:
            flags, old = bpf.prog_query(dfd, ATTACH)
            multi = bpf.ATTACH_FLAGS["BPF_F_ALLOW_MULTI"]
            if old and not flags & multi:
                bpf.prog_attach(dfd, prog, ATTACH, 0)   # a lone program is replaced in place
                return
            bpf.prog_attach(dfd, prog, ATTACH, multi)
            for prog_id in old:
                old_fd = bpf.prog_get_fd_by_id(prog_id)
                try:
                    bpf.prog_detach(dfd, old_fd, ATTACH)
                finally:
                    os.close(old_fd)
        except OSError as exc:
            raise PalletError(f"cgroup {dir}: attaching the device program: {exc.strerror}") from None
        finally:
            os.close(prog)
    finally:
        os.close(dfd)


def apply(res: LinuxResources, dir: str, *, defaults: bool = True) -> list[str]:
    code = plan(res, defaults=defaults)
    if code:
        attach(dir, code)
    return []


def attached(dir: str) -> list[int]:
    dfd = os.open(dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return bpf.prog_query(dfd, ATTACH)[1]
    finally:
        os.close(dfd)
