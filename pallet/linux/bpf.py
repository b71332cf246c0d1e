"""bpf(2): load a program, attach it to a cgroup, query and detach.

Only what cgroup device filtering needs. `union bpf_attr` differs per
command; each command below fills a zeroed buffer at the offsets of its
struct (quoted), since the kernel insists that the unused tail is zero.
No policy here: the cgroups layer decides what to load and replace.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import struct

# include/uapi/linux/bpf.h
CMD: dict[str, int] = {
    "BPF_PROG_LOAD": 5,
    "BPF_PROG_ATTACH": 8,
    "BPF_PROG_DETACH": 9,
    "BPF_PROG_GET_FD_BY_ID": 13,
    "BPF_PROG_QUERY": 16,
}
PROG_TYPE: dict[str, int] = {"BPF_PROG_TYPE_CGROUP_DEVICE": 15}
ATTACH_TYPE: dict[str, int] = {"BPF_CGROUP_DEVICE": 6}
ATTACH_FLAGS: dict[str, int] = {"BPF_F_ALLOW_OVERRIDE": 1, "BPF_F_ALLOW_MULTI": 2, "BPF_F_REPLACE": 4}

SYSCALL_NR: dict[str, int] = {"x86_64": 321, "aarch64": 280}
ATTR_SIZE = 128  # larger than every struct used here; zero-filled

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _bpf(cmd: str, attr: ctypes.Array, what: str) -> int:
    nr = SYSCALL_NR[os.uname().machine]  # not `platform`: it imports re, enum, collections (~10 ms)
    while True:
        ret = _libc.syscall(ctypes.c_long(nr), ctypes.c_int(CMD[cmd]), ctypes.byref(attr),
                            ctypes.c_uint(ATTR_SIZE))
        if ret >= 0:
            return ret
        err = ctypes.get_errno()
        if err != _errno.EINTR:
            raise OSError(err, f"bpf {cmd}: {os.strerror(err)}", what)


def prog_load(prog_type: str, insns: bytes, license: str = "GPL", log_size: int = 65536) -> int:
    """BPF_PROG_LOAD; returns the program fd. The verifier's log is put in
    the error message when the kernel refuses the program.

        struct { __u32 prog_type; __u32 insn_cnt; __aligned_u64 insns;
                 __aligned_u64 license; __u32 log_level; __u32 log_size;
                 __aligned_u64 log_buf; __u32 kern_version; ... };
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license.encode())

    def load(log_level: int, log) -> int:
        attr = ctypes.create_string_buffer(ATTR_SIZE)
        struct.pack_into("=IIQQIIQ", attr, 0, PROG_TYPE[prog_type], len(insns) // 8,
                         ctypes.addressof(code), ctypes.addressof(lic), log_level,
                         log_size if log_level else 0, ctypes.addressof(log) if log_level else 0)
        return _bpf("BPF_PROG_LOAD", attr, prog_type)

    try:
        # No log first: a verbose log of a big (valid) program can overflow
        # the buffer, which fails the load with ENOSPC.
        return load(0, None)
    except OSError:
        pass
    log = ctypes.create_string_buffer(log_size)
    try:
        return load(1, log)
    except OSError as exc:
        text = log.value.decode(errors="replace").strip().splitlines()
        raise OSError(exc.errno, f"{exc.strerror}: verifier: {' | '.join(text[-3:])}", prog_type) from None


def prog_attach(target_fd: int, prog_fd: int, attach_type: str, flags: int = 0) -> None:
    """struct { __u32 target_fd; __u32 attach_bpf_fd; __u32 attach_type; __u32 attach_flags; ... }"""
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into("=IIII", attr, 0, target_fd, prog_fd, ATTACH_TYPE[attach_type], flags)
    _bpf("BPF_PROG_ATTACH", attr, attach_type)


def prog_detach(target_fd: int, prog_fd: int, attach_type: str) -> None:
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into("=III", attr, 0, target_fd, prog_fd, ATTACH_TYPE[attach_type])
    _bpf("BPF_PROG_DETACH", attr, attach_type)


def prog_query(target_fd: int, attach_type: str, max_progs: int = 64) -> tuple[int, list[int]]:
    """The attach flags and the ids of the programs attached to a cgroup.

        struct { __u32 target_fd; __u32 attach_type; __u32 query_flags;
                 __u32 attach_flags; __aligned_u64 prog_ids; __u32 prog_cnt; };
    """
    ids = (ctypes.c_uint32 * max_progs)()
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into("=IIIIQI", attr, 0, target_fd, ATTACH_TYPE[attach_type], 0, 0,
                     ctypes.addressof(ids), max_progs)
    _bpf("BPF_PROG_QUERY", attr, attach_type)
    flags = struct.unpack_from("=I", attr, 12)[0]
    count = struct.unpack_from("=I", attr, 24)[0]
    return flags, list(ids[:count])


def prog_get_fd_by_id(prog_id: int) -> int:
    attr = ctypes.create_string_buffer(ATTR_SIZE)
    struct.pack_into("=I", attr, 0, prog_id)
    return _bpf("BPF_PROG_GET_FD_BY_ID", attr, f"prog id {prog_id}")
