"""Our BPF compiler, run in a small BPF interpreter (seccomp_vm.py) and compared with libseccomp's output."""

from __future__ import annotations

import ctypes.util
import errno
import itertools
import os
import random
import sys

import pytest

from pallet.errors import InvalidArgument
from pallet.oci.seccomp import ARCHES
from pallet.runtime.seccomp import compile_filter, default_profile
from pallet.runtime.seccomp import bpf
from pallet.runtime.seccomp.syscalls import TABLES

sys.path.insert(0, os.path.dirname(__file__))
import seccomp_vm as vm  # noqa: E402

X86_64, I386, X32 = ARCHES["SCMP_ARCH_X86_64"], ARCHES["SCMP_ARCH_X86"], ARCHES["SCMP_ARCH_X32"]
AARCH64 = ARCHES["SCMP_ARCH_AARCH64"]
NR64, NR32, NRX32 = TABLES[X86_64], TABLES[I386], TABLES[X32]
ALLOW, KILL_PROCESS, KILL_THREAD, TRAP, LOG = 0x7FFF0000, 0x80000000, 0, 0x00030000, 0x7FFC0000


def ERRNO(e: int) -> int:
    return 0x00050000 | e


def decide(prog, name_or_nr, arch=X86_64, args=(), table=NR64):
    nr = table[name_or_nr] if isinstance(name_or_nr, str) else name_or_nr
    return vm.run(prog.bpf if hasattr(prog, "bpf") else prog, vm.seccomp_data(nr, arch, args))


def test_program_starts_with_the_arch_check():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW"})
    first = vm.decode(prog.bpf)[0]
    assert first == (0x20, 0, 0, 4)  # ld seccomp_data.arch
    assert prog.backend == "pallet"


def test_default_profile_decisions_without_caps():
    prog = compile_filter(default_profile([]))
    for name in ("read", "write", "execve", "openat", "exit_group", "rt_sigreturn", "futex", "clone_never" if False else "fork"):
        assert decide(prog, name) == ALLOW, name
    for name in ("mount", "umount2", "unshare", "setns", "keyctl", "add_key", "bpf", "ptrace" if False else "kexec_load",
                 "init_module", "reboot", "clock_settime", "settimeofday", "chroot", "pivot_root", "open_by_handle_at"):
        assert decide(prog, name) == ERRNO(errno.EPERM), name
    assert decide(prog, "clone3") == ERRNO(errno.ENOSYS)
    # clone: threads and fork pass, any namespace flag does not
    assert decide(prog, "clone", args=[0x3D0F00]) == ALLOW          # pthread_create's flags
    assert decide(prog, "clone", args=[0x01200011]) == ALLOW        # fork(): CLONE_CHILD_SETTID|CLEARTID|SIGCHLD
    for ns in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000):
        assert decide(prog, "clone", args=[0x11 | ns]) == ERRNO(errno.EPERM), hex(ns)
    # personality: the five allowed values only
    for value in (0, 8, 0x20000, 0x20008, 0xFFFFFFFF):
        assert decide(prog, "personality", args=[value]) == ALLOW
    assert decide(prog, "personality", args=[0x0040000]) == ERRNO(errno.EPERM)  # ADDR_NO_RANDOMIZE
    assert decide(prog, "personality", args=[0x1_0000_0000]) == ERRNO(errno.EPERM)  # high half counts
    # socket: anything but AF_VSOCK
    assert decide(prog, "socket", args=[2]) == ALLOW
    assert decide(prog, "socket", args=[40]) == ERRNO(errno.EPERM)
    assert decide(prog, "arch_prctl") == ALLOW


def test_default_profile_with_sys_admin_allows_namespaces():
    prog = compile_filter(default_profile(["CAP_SYS_ADMIN"]))
    for name in ("mount", "unshare", "setns", "clone3"):
        assert decide(prog, name) == ALLOW, name
    assert decide(prog, "clone", args=[0x10000011]) == ALLOW
    assert decide(prog, "keyctl") == ERRNO(errno.EPERM)  # not in Docker's list for any capability


def test_i386_and_x32_use_their_own_numbers():
    prog = compile_filter(default_profile([]))
    assert NR32["read"] == 3 and NR32["mount"] == 21
    assert decide(prog, "read", I386, table=NR32) == ALLOW
    assert decide(prog, "mount", I386, table=NR32) == ERRNO(errno.EPERM)
    assert decide(prog, "socketcall", I386, table=NR32) == ALLOW
    # i386's 3 is read; x86_64's 3 is close; i386's 165 is getresuid; x86_64's 165 is mount
    assert decide(prog, 165, I386) == ALLOW and decide(prog, 165, X86_64) == ERRNO(errno.EPERM)
    assert decide(prog, "read", X86_64, table=NRX32) == ALLOW          # x32: 0x40000000
    assert decide(prog, "mount", X86_64, table=NRX32) == ERRNO(errno.EPERM)
    assert decide(prog, "rt_sigaction", X86_64, table=NRX32) == ALLOW  # x32's own 512


def test_foreign_arch_is_killed():
    prog = compile_filter(default_profile([]))
    assert decide(prog, 0, AARCH64) == KILL_PROCESS
    assert decide(prog, 0, 0) == KILL_PROCESS


def test_x32_calls_cannot_bypass_a_native_only_filter():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                           "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]})
    assert decide(prog, "mount") == ERRNO(errno.EPERM)
    assert decide(prog, 0x40000000 | NR64["mount"]) == KILL_PROCESS  # mount with the x32 bit
    assert decide(prog, 0x40000000) == KILL_PROCESS
    assert decide(prog, 0xFFFFFFFF) == ALLOW  # nr -1, a tracer's skipped call: the default action
    assert decide(prog, "read", I386, table=NR32) == KILL_PROCESS  # int 0x80 without SCMP_ARCH_X86


def test_architectures_always_include_the_native_one():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"],
                           "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]})
    assert decide(prog, "mount") == ERRNO(errno.EPERM)
    assert decide(prog, "mount", I386, table=NR32) == ERRNO(errno.EPERM)


@pytest.mark.parametrize("action, value", [
    ("SCMP_ACT_KILL", KILL_THREAD), ("SCMP_ACT_KILL_THREAD", KILL_THREAD), ("SCMP_ACT_KILL_PROCESS", KILL_PROCESS),
    ("SCMP_ACT_TRAP", TRAP), ("SCMP_ACT_LOG", LOG), ("SCMP_ACT_TRACE", 0x7FF00000 | errno.EPERM), ("SCMP_ACT_ERRNO", ERRNO(1)),
])
def test_every_action(action, value):
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": action}]})
    assert decide(prog, "getppid") == value
    assert decide(prog, "getpid") == ALLOW


def test_default_errno_ret():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
                           "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert decide(prog, "write") == ERRNO(errno.ENOSYS)


EDGES = [0, 1, 2, 0x7F, 0xFFFF_FFFE, 0xFFFF_FFFF, 0x1_0000_0000, 0x1_0000_0001, 0x2_0000_0000, 0xFFFF_FFFF_0000_0000,
         0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFE, 0xFFFF_FFFF_FFFF_FFFF, 0x1234_5678_9ABC_DEF0]
PY_OPS = {
    "SCMP_CMP_EQ": lambda a, v, v2: a == v, "SCMP_CMP_NE": lambda a, v, v2: a != v,
    "SCMP_CMP_LT": lambda a, v, v2: a < v, "SCMP_CMP_LE": lambda a, v, v2: a <= v,
    "SCMP_CMP_GT": lambda a, v, v2: a > v, "SCMP_CMP_GE": lambda a, v, v2: a >= v,
    "SCMP_CMP_MASKED_EQ": lambda a, v, v2: (a & v) == v2,
}


@pytest.mark.parametrize("op", sorted(PY_OPS))
def test_operators_compare_64_bits_as_two_halves(op):
    rnd = random.Random(op)
    values = EDGES + [rnd.getrandbits(64) for _ in range(6)]
    for v in values:
        v2 = (v & rnd.getrandbits(64)) if op == "SCMP_CMP_MASKED_EQ" else 0
        prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33, "args": [{"index": 3, "op": op, "value": v, "valueTwo": v2}]}]})
        for a in values + [v, v + 1 & 2**64 - 1, v - 1 & 2**64 - 1, v2, v ^ (1 << 32) & 2**64 - 1]:
            want = ERRNO(33) if PY_OPS[op](a, v, v2) else ALLOW
            assert decide(prog, "getppid", args=[0, 0, 0, a]) == want, (op, hex(v), hex(v2), hex(a))


def test_args_are_anded_and_rules_tried_in_order():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 2, "op": "SCMP_CMP_MASKED_EQ", "value": 4, "valueTwo": 4}, {"index": 3, "op": "SCMP_CMP_EQ", "value": 0x22}]},
        {"names": ["mmap"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2, "args": [{"index": 2, "op": "SCMP_CMP_MASKED_EQ", "value": 4, "valueTwo": 4}]},
    ]})
    assert decide(prog, "mmap", args=[0, 4096, 7, 0x22]) == ERRNO(1)
    assert decide(prog, "mmap", args=[0, 4096, 7, 0x02]) == ERRNO(2)
    assert decide(prog, "mmap", args=[0, 4096, 3, 0x22]) == ALLOW


def test_32_bit_arch_compares_the_low_word_only():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"], "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0xFFFFFFFF}]}]})
    assert decide(prog, "personality", I386, args=[0xFFFFFFFF], table=NR32) == ERRNO(1)
    assert decide(prog, "personality", X86_64, args=[0xFFFFFFFF]) == ERRNO(1)
    assert decide(prog, "personality", X86_64, args=[0x1_FFFFFFFF]) == ALLOW


def test_long_programs_use_trampolines_and_stay_valid():
    # 300 conditional rules: jumps past 255 instructions need `ja` trampolines
    names = [n for n, nr in sorted(NR64.items(), key=lambda kv: kv[1]) if nr < 300]
    rules = [{"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": i % 200 + 1,
              "args": [{"index": 1, "op": "SCMP_CMP_EQ", "value": i}]} for i, n in enumerate(names)]
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
    insns = vm.decode(prog.bpf)
    assert any(code == 0x05 for code, *_ in insns)
    for i, n in enumerate(names):
        assert decide(prog, n, args=[0, i]) == ERRNO(i % 200 + 1), n
        assert decide(prog, n, args=[0, i + 1]) == ALLOW, n
    # every jump lands inside the program
    for pc, (code, jt, jf, k) in enumerate(insns):
        if code & 0x07 == 0x05:
            targets = [pc + 1 + k] if code == 0x05 else [pc + 1 + jt, pc + 1 + jf]
            assert all(t < len(insns) for t in targets)


def test_too_many_instructions_is_a_clear_error():
    rules = [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": i},
                                                                       {"index": 1, "op": "SCMP_CMP_EQ", "value": i}]} for i in range(700)]
    with pytest.raises(InvalidArgument, match=r"linux.seccomp: the filter needs \d+ BPF instructions, above the kernel's 4096"):
        compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})


def test_newer_syscalls_than_libseccomp_are_known():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                           "syscalls": [{"names": ["mseal", "open_tree_attr"], "action": "SCMP_ACT_ERRNO"}]})
    assert decide(prog, 462) == ERRNO(1) and decide(prog, 467) == ERRNO(1)
    assert decide(prog, 462, I386) == ERRNO(1)


def test_ranges_merge_neighbours():
    assert bpf._ranges({1: 7, 2: 7, 3: 7, 5: 8}, 0, 10, 9) == [(0, 9), (1, 7), (4, 9), (5, 8), (6, 9)]
    assert bpf._ranges({}, 0, 10, 9) == [(0, 9)]
    assert bpf._ranges({0: 9, 9: 9}, 0, 10, 9) == [(0, 9)]


# --- differential: the same decisions as libseccomp's program --------------------------------------

has_libseccomp = pytest.mark.skipif(ctypes.util.find_library("seccomp") is None, reason="libseccomp2 is not installed")


def _largest_named(profile: dict) -> dict[int, int]:
    """runc's findLastSyscalls: per ABI, the largest number of any name the profile mentions."""
    names = {n for r in profile.get("syscalls", ()) for n in r["names"]}
    return {arch: max((t[n] for n in names if n in t), default=-1) for arch, t in ((X86_64, NR64), (I386, NR32), (X32, NRX32))}


def _profiles():
    docker_format = "/usr/share/containers/seccomp.json"
    yield "default-nocaps", default_profile([])
    yield "default-admin-ptrace", default_profile(["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_TIME"])
    yield "native-only", {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"names": ["mount", "kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        {"names": ["mmap"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 2, "op": "SCMP_CMP_MASKED_EQ", "value": 6, "valueTwo": 6}]},
        {"names": ["lseek"], "action": "SCMP_ACT_TRAP", "args": [{"index": 1, "op": "SCMP_CMP_GT", "value": 0x1_0000_0000}]},
        {"names": ["getpriority"], "action": "SCMP_ACT_LOG", "args": [{"index": 0, "op": "SCMP_CMP_LE", "value": 1}, {"index": 1, "op": "SCMP_CMP_NE", "value": 0}]},
    ]}
    if os.path.exists(docker_format):
        import json

        from pallet.runtime.seccomp import docker_profile_to_oci

        with open(docker_format) as f:
            yield "containers-common", docker_profile_to_oci(json.load(f), ["CAP_CHOWN", "CAP_NET_RAW"])


@has_libseccomp
@pytest.mark.parametrize("name, profile", list(_profiles()), ids=lambda x: x if isinstance(x, str) else "")
def test_same_decisions_as_libseccomp(name, profile):
    ours = vm.decode(compile_filter(profile, backend="pallet", warn=lambda m: None).bpf)
    ref = vm.decode(compile_filter(profile, backend="libseccomp", warn=lambda m: None).bpf)
    rnd = random.Random(name)
    argvals = [0, 1, 2, 6, 8, 40, 0x20000, 0x20008, 0xFFFFFFFF, 0x1_0000_0000, 0x1_0000_0001, 0x7E020000, 0x10000000,
               0xFFFF_FFFF_FFFF_FFFF, 0x40000000]
    numbers = list(range(0, 560)) + list(range(0x40000000, 0x40000000 + 560)) + [0xFFFFFFFF, 0x3FFFFFFF, 0x80000000, 1000]
    diffs = []
    enosys = profile["defaultAction"] not in ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG") and profile.get("defaultErrnoRet") != errno.ENOSYS
    listed = profile.get("architectures", ())
    last = _largest_named(profile)
    # libseccomp 2.5 knows fewer names, so its stub (enosys.py, runc's) starts lower: between the
    # two lines the backends legitimately differ (ENOSYS vs the default), so that band is skipped.
    from pallet.runtime.seccomp import libseccomp

    names = {n for r in profile.get("syscalls", ()) for n in r["names"]}
    lib_last = {a: max((nr for nr in (libseccomp.resolve(n, a) for n in names) if nr is not None and nr >= 0), default=-1)
                for a in (X86_64, I386)}
    for arch, nr in itertools.product((X86_64, I386, AARCH64), numbers):
        if nr in range(451, 470) or nr - 0x40000000 in range(451, 470) or (arch == X86_64 and nr == NR64["uretprobe"]):
            continue  # newer than libseccomp 2.5.4: it leaves them to the default action
        beyond = nr != 0xFFFFFFFF and (
            (arch == X86_64 and "SCMP_ARCH_X86_64" in listed and last[X86_64] < nr < 0x40000000)
            or (arch == X86_64 and "SCMP_ARCH_X32" in listed and nr > last[X32])
            or (arch == I386 and "SCMP_ARCH_X86" in listed and nr > last[I386]))
        for args in ([0] * 6, [rnd.choice(argvals) for _ in range(6)], [rnd.choice(argvals) for _ in range(6)]):
            d = vm.seccomp_data(nr, arch, args)
            if enosys and not beyond and arch in lib_last and lib_last[arch] < nr < min(last[arch], 0x40000000) \
                    and f"SCMP_ARCH_{'X86_64' if arch == X86_64 else 'X86'}" in listed:
                continue
            if beyond and enosys:  # runc's stub, which libseccomp alone does not emit
                if vm.run(ours, d) != ERRNO(errno.ENOSYS):
                    diffs.append(("enosys", hex(arch), hex(nr), hex(vm.run(ours, d))))
                continue
            if vm.run(ours, d) != vm.run(ref, d):
                diffs.append((hex(arch), hex(nr), [hex(a) for a in args], hex(vm.run(ours, d)), hex(vm.run(ref, d))))
    assert not diffs[:10]
    if name.startswith("default"):
        assert len(ours) < len(ref) / 2  # ranges and one arch check per ABI: 380 vs 980 instructions


def test_golden_program_for_a_small_profile():
    """The whole program, instruction by instruction: the shape of bpf.py's docstring."""
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 0x1_0000_0008}]},
    ]})
    assert vm.decode(prog.bpf) == [  # default ALLOW: no ENOSYS stub
        (0x20, 0, 0, 0x4),            # 0  ld arch
        (0x15, 0, 12, 0xC000003E),    # 1  x86_64? else -> 14 kill
        (0x20, 0, 0, 0x0),            # 2  ld nr
        (0x35, 9, 0, 0x40000000),     # 3  x32 bit -> 13
        (0x35, 1, 0, 111),            # 4  nr >= 111 -> 6
        (0x35, 6, 9, 110),            # 5  nr == 110 (getppid) -> 12 errno, below -> 15 allow
        (0x35, 0, 8, 135),            # 6  below 135 -> 15 allow
        (0x35, 7, 0, 136),            # 7  136 and up -> 15 allow; 135 (personality) -> 8
        (0x20, 0, 0, 0x14),           # 8  ld args[0] high word
        (0x15, 0, 5, 0x1),            # 9  == 1 ? else -> 15 allow
        (0x20, 0, 0, 0x10),           # 10 ld args[0] low word
        (0x15, 2, 3, 0x8),            # 11 == 8 -> 14 kill, else -> 15 allow
        (0x06, 0, 0, 0x50001),        # 12 ret ERRNO(EPERM)
        (0x35, 1, 0, 0xFFFFFFFF),     # 13 x32 range: nr -1 -> 15 default, the rest -> 14 bad arch
        (0x06, 0, 0, 0x80000000),     # 14 ret KILL_PROCESS
        (0x06, 0, 0, 0x7FFF0000),     # 15 ret ALLOW
    ]


def test_syscalls_above_the_profiles_largest_get_enosys_like_runc():
    """runc's stub: above the largest number the profile names (per ABI) -> ENOSYS; below it -> the default."""
    prog = compile_filter(default_profile([]))
    last = NR64["removexattrat"]  # 466: the newest call Docker's profile names
    assert last == _largest_named(default_profile([]))[X86_64]
    for nr in (467, 468, 469, 470, 1000):  # open_tree_attr, file_getattr, file_setattr, not yet numbered
        assert decide(prog, nr) == ERRNO(errno.ENOSYS), nr
        assert decide(prog, nr, I386) == ERRNO(errno.ENOSYS), nr
    assert decide(prog, 0x40000000 + 600) == ERRNO(errno.ENOSYS)  # x32, above its compat numbers
    # syscall(-1): unsigned, it is above the line too (runc's stub; the kernel itself says ENOSYS)
    assert decide(prog, 0xFFFFFFFF) == ERRNO(errno.ENOSYS) and decide(prog, 0xFFFFFFFF, I386) == ERRNO(errno.ENOSYS)
    assert decide(prog, "lsm_list_modules") == ERRNO(errno.EPERM)  # named only for CAP_SYS_ADMIN: below the line
    assert decide(prog, "io_uring_setup") == ERRNO(errno.EPERM)
    assert decide(prog, "mseal") == ALLOW and decide(prog, "removexattrat") == ALLOW
    allow = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]})
    assert decide(allow, 470) == ALLOW  # an allow-by-default profile lets new calls through


def test_enosys_line_follows_the_profile_not_the_table():
    only_rw = compile_filter({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
                              "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                                           {"names": ["close"], "action": "SCMP_ACT_ERRNO"}]})  # = the default: still counts
    assert decide(only_rw, "read") == ALLOW and decide(only_rw, "close") == ERRNO(errno.EPERM)
    assert decide(only_rw, 4) == ERRNO(errno.ENOSYS)  # stat: above close (3), the largest named
    unlisted = compile_filter({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert decide(unlisted, 1000) == ERRNO(errno.EPERM)  # no architectures listed: no stub (runc loops over them)
    trace = compile_filter({"defaultAction": "SCMP_ACT_TRACE", "architectures": ["SCMP_ARCH_X86_64"],
                            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert decide(trace, 1000) == 0x7FF00000 | errno.EPERM  # a tracer handles new calls itself
    enosys_default = compile_filter({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOSYS,
                                     "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert decide(enosys_default, 5) == decide(enosys_default, 1000) == ERRNO(errno.ENOSYS)


def test_docker_additions_decided_on_every_abi():
    prog = compile_filter(default_profile([]))
    for name in ("cachestat", "fchmodat2", "futex_wake", "futex_wait", "futex_requeue", "statmount", "listmount",
                 "mseal", "getxattrat", "setxattrat", "listxattrat", "removexattrat"):
        assert decide(prog, name) == ALLOW, name
        assert decide(prog, name, I386, table=NR32) == ALLOW, name
        assert decide(prog, name, X86_64, table=NRX32) == ALLOW, name
    assert decide(prog, "map_shadow_stack") == ALLOW and decide(prog, "uretprobe") == ALLOW  # 64-bit only calls
    for name in ("lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "io_uring_setup", "io_uring_enter"):
        assert decide(prog, name) == ERRNO(errno.EPERM), name
    admin = compile_filter(default_profile(["CAP_SYS_ADMIN"]))
    assert all(decide(admin, n) == ALLOW for n in ("lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"))
    # socket: every family but AF_ALG (38) and AF_VSOCK (40)
    for family, want in ((1, ALLOW), (2, ALLOW), (10, ALLOW), (16, ALLOW), (37, ALLOW), (38, ERRNO(errno.EPERM)),
                         (39, ALLOW), (40, ERRNO(errno.EPERM)), (41, ALLOW), (0x1_0000_0026, ALLOW)):
        assert decide(prog, "socket", args=[family]) == want, family


def test_x32_compares_the_low_word_like_libseccomp():
    prog = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                           "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                         "args": [{"index": 0, "op": "SCMP_CMP_EQ", "value": 5}]}]})
    # high bits the 32-bit ABI drops do not dodge an x32 deny rule
    assert decide(prog, "personality", X86_64, args=[0x1_0000_0005], table=NRX32) == ERRNO(errno.EPERM)
    assert decide(prog, "personality", X86_64, args=[0x1_0000_0005]) == ALLOW  # native x86_64: all 64 bits
    assert decide(prog, "personality", X86_64, args=[5]) == ERRNO(errno.EPERM)


@has_libseccomp
def test_libseccomp_backend_gets_runcs_enosys_stub():
    prog = compile_filter(default_profile([]), backend="libseccomp", warn=lambda m: None)
    from pallet.runtime.seccomp import libseccomp

    last64 = max(nr for nr in (libseccomp.resolve(n, X86_64) for r in default_profile([])["syscalls"] for n in r["names"])
                 if nr is not None and nr >= 0)
    for arch in (X86_64, I386):
        assert decide(prog, 1000, arch) == ERRNO(errno.ENOSYS)
        assert decide(prog, 0xFFFFFFFF, arch) == ERRNO(errno.ENOSYS)
        assert decide(prog, "read", arch, table=NR64 if arch == X86_64 else NR32) == ALLOW
        assert decide(prog, "keyctl", arch, table=NR64 if arch == X86_64 else NR32) == ERRNO(errno.EPERM)
    assert decide(prog, last64 + 1) == ERRNO(errno.ENOSYS) and decide(prog, last64) != ERRNO(errno.ENOSYS)
    assert decide(prog, 0x40000000 + 600) == ERRNO(errno.ENOSYS)                # x32 above its last
    assert decide(prog, "read", X86_64, table=NRX32) == ALLOW                    # x32 read still allowed
    assert decide(prog, "keyctl", X86_64, table=NRX32) == ERRNO(errno.EPERM)
    assert decide(prog, 1, AARCH64) == KILL_PROCESS                              # a foreign arch: the filter's bad-arch action
    permissive = compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
                                 "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_ERRNO"}]}, backend="libseccomp")
    assert decide(permissive, 1000) == ALLOW
    unlisted = compile_filter({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]},
                              backend="libseccomp")
    assert decide(unlisted, 1000) == ERRNO(errno.EPERM)


def test_enosys_stub_shape():
    from pallet.runtime.seccomp.enosys import stub

    assert stub({}) == b""
    code = vm.decode(stub({I386: 10}) + bpf.encode([bpf.Insn(0x06, 0, 0, ALLOW)]))
    assert code[0] == (0x20, 0, 0, 4)          # ld arch
    assert vm.run(stub({I386: 10}) + bpf.encode([bpf.Insn(0x06, 0, 0, ALLOW)]), vm.seccomp_data(11, I386, [0] * 6)) == ERRNO(errno.ENOSYS)
    assert vm.run(stub({I386: 10}) + bpf.encode([bpf.Insn(0x06, 0, 0, ALLOW)]), vm.seccomp_data(10, I386, [0] * 6)) == ALLOW
    assert vm.run(stub({I386: 10}) + bpf.encode([bpf.Insn(0x06, 0, 0, ALLOW)]), vm.seccomp_data(11, X86_64, [0] * 6)) == ALLOW
