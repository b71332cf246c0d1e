"""Backend: compile a plan with Debian's libseccomp2 through ctypes (not pyseccomp: its import runs ldconfig).

Used as the reference the own compiler (bpf.py) is tested against, and as a
fallback backend. Loaded lazily: a host without libseccomp.so.2 raises
Unavailable only when this backend is asked for.
"""

from __future__ import annotations

import ctypes
import os

from pallet.errors import InvalidArgument, Unavailable
from pallet.oci.seccomp import ARCHES
from pallet.runtime.seccomp.plan import Plan, wants_enosys_stub

SONAME = "libseccomp.so.2"

# enum scmp_filter_attr (seccomp.h)
ATTR: dict[str, int] = {"ACT_DEFAULT": 1, "ACT_BADARCH": 2, "CTL_NNP": 3, "CTL_TSYNC": 4, "API_TSKIP": 5, "CTL_LOG": 6, "CTL_SSB": 7, "CTL_OPTIMIZE": 8}

NR_SCMP_ERROR = -1


class ScmpArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp { unsigned int arg; enum scmp_compare op; scmp_datum_t datum_a; scmp_datum_t datum_b; };"""

    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


_lib = None


def lib():
    global _lib
    if _lib is None:
        try:
            l = ctypes.CDLL(SONAME, use_errno=True)
        except OSError as e:
            raise Unavailable(f"seccomp: {SONAME} is not installed ({e})") from None
        l.seccomp_init.argtypes = [ctypes.c_uint32]
        l.seccomp_init.restype = ctypes.c_void_p
        l.seccomp_release.argtypes = [ctypes.c_void_p]
        l.seccomp_release.restype = None
        l.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        l.seccomp_arch_remove.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        l.seccomp_arch_native.restype = ctypes.c_uint32
        l.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        l.seccomp_syscall_resolve_name_arch.argtypes = [ctypes.c_uint32, ctypes.c_char_p]
        l.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ScmpArgCmp)]
        l.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        _lib = l
    return _lib


def resolve(name: str, arch: int) -> int | None:
    """The syscall number libseccomp knows for `name` on `arch` (a negative pseudo number where absent), or None."""
    nr = lib().seccomp_syscall_resolve_name_arch(arch, name.encode())
    return None if nr == NR_SCMP_ERROR else nr


def _check(rc: int, what: str) -> None:
    if rc < 0:
        raise InvalidArgument(f"seccomp: libseccomp {what}: {os.strerror(-rc)}")


def compile_plan(plan: Plan) -> bytes:
    """The BPF program libseccomp generates for `plan` (bad arch -> plan.bad_arch_action)."""
    l = lib()
    ctx = l.seccomp_init(plan.default_action)
    if not ctx:
        raise InvalidArgument(f"seccomp: libseccomp rejected the default action {plan.default_action:#x}")
    try:
        _check(l.seccomp_attr_set(ctx, ATTR["CTL_NNP"], 0), "attr NNP")  # the runtime decides no_new_privs
        _check(l.seccomp_attr_set(ctx, ATTR["ACT_BADARCH"], plan.bad_arch_action), "attr badarch")
        native = l.seccomp_arch_native()
        if plan.arches and native not in plan.arches:
            for a in plan.arches:
                _check(l.seccomp_arch_add(ctx, a), f"arch_add {a:#x}")
            _check(l.seccomp_arch_remove(ctx, native), "arch_remove native")
        else:
            for a in plan.arches:
                if a != native:
                    _check(l.seccomp_arch_add(ctx, a), f"arch_add {a:#x}")
        for rule in plan.rules:
            nr = resolve(rule.name, native if native in plan.arches or not plan.arches else plan.arches[0])
            if nr is None:
                continue
            conds = (ScmpArgCmp * max(1, len(rule.conditions)))()
            for i, c in enumerate(rule.conditions):
                conds[i] = ScmpArgCmp(c.index, c.op, c.a, c.b)
            rc = l.seccomp_rule_add_array(ctx, rule.action, nr, len(rule.conditions), conds)
            if rc == -17:  # EEXIST: a rule for this syscall with this action exists already
                continue
            _check(rc, f"rule_add {rule.name}")
        fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
        try:
            _check(l.seccomp_export_bpf(ctx, fd), "export_bpf")
            size = os.lseek(fd, 0, os.SEEK_END)
            program = os.pread(fd, size, 0)
        finally:
            os.close(fd)
    finally:
        l.seccomp_release(ctx)
    return _with_enosys_stub(plan, program)


def _with_enosys_stub(plan: Plan, program: bytes) -> bytes:
    """runc's patch: prepend enosys.stub() for the arches the profile lists."""
    if not wants_enosys_stub(plan):
        return program
    from pallet.runtime.seccomp.enosys import stub

    last: dict[int, int] = {}
    x32_last = None
    for arch in plan.arches:
        numbers = [nr for nr in (resolve(n, arch) for n in plan.referenced) if nr is not None and nr >= 0]
        if not numbers:
            continue
        if arch == ARCHES["SCMP_ARCH_X32"]:
            x32_last = max(numbers)  # not an AUDIT_ARCH: x32 calls arrive as x86_64 ones with the x32 bit
        else:
            last[arch] = max(numbers)
    return stub(last, x32_last) + program
