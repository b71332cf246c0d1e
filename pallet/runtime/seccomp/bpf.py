"""Our BPF compiler: a Plan -> a classic-BPF seccomp program (sock_filter bytes). Pure.

Shape of the program (x86_64 host, arches x86_64 + x86 + x32):

    ld  arch                              seccomp_data.arch
    jeq AUDIT_ARCH_X86_64 -> X86_64 / next
    jeq AUDIT_ARCH_I386   -> I386   / BAD
    BAD: ret bad_arch_action             (any other arch: kill)
    X86_64: ld nr
            jge 0x40000000 -> X32 / NATIVE   x32 calls carry the bit; without
                                          SCMP_ARCH_X32 they take bad_arch_action
    NATIVE: binary search over number ranges -> ret ACTION | args block
    X32:    the same over the x32 numbers (nr == -1, a tracer's skip, is default)
    I386:   ld nr; binary search over the i386 numbers
    above the largest syscall number the profile names on that ABI: ERRNO(ENOSYS),
    as runc's stub does (for the arches the profile lists, unless the default
    already lets calls through), so libc falls back from a syscall newer than
    the profile instead of reading EPERM as a refusal
    args blocks: per syscall, the rules in profile order, first match wins;
                 64-bit args as two 32-bit halves (high word first), low word
                 only on i386 and x32 (as libseccomp does)
    ret ...: one return per distinct action

Consecutive syscall numbers with the same outcome collapse into one range,
so an allow-list of ~350 names needs ~70 ranges and ~7 comparisons a call.

The program is built backwards, from the returns up, so every jump target
is already placed when the jump is emitted: the distance is exact, and a
conditional jump farther than 255 goes through a `ja` trampoline.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from pallet.errors import InvalidArgument
from pallet.oci.seccomp import ARCHES
from pallet.runtime.seccomp import syscalls
from pallet.runtime.seccomp.plan import ENOSYS_ACTION, Condition, Plan, Rule, wants_enosys_stub

# Classic BPF opcodes (include/uapi/linux/filter.h, bpf_common.h).
OP: dict[str, int] = {
    "LD_W_ABS": 0x20,   # BPF_LD | BPF_W | BPF_ABS
    "JA": 0x05,         # BPF_JMP | BPF_JA
    "JEQ": 0x15,        # BPF_JMP | BPF_JEQ | BPF_K
    "JGT": 0x25,        # BPF_JMP | BPF_JGT | BPF_K
    "JGE": 0x35,        # BPF_JMP | BPF_JGE | BPF_K
    "AND": 0x54,        # BPF_ALU | BPF_AND | BPF_K
    "RET": 0x06,        # BPF_RET | BPF_K
}

# struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; };
OFF_NR = 0
OFF_ARCH = 4
OFF_ARGS = 16
BPF_MAXINSNS = 4096
X32_BIT = syscalls.X32_BIT
U32 = 0xFFFFFFFF

# libseccomp operator number -> emitter name (see _cond)
_OPS: dict[int, str] = {1: "NE", 2: "LT", 3: "LE", 4: "EQ", 5: "GE", 6: "GT", 7: "MASKED_EQ"}

_INSN = struct.Struct("=HBBI")




@dataclass(frozen=True)
class Insn:
    code: int
    jt: int
    jf: int
    k: int


class _Builder:
    """Emits instructions last-first. A label is the number of instructions after it."""

    def __init__(self) -> None:
        self.rev: list[Insn] = []
        self._rets: dict[int, int] = {}

    def stmt(self, code: int, k: int) -> int:
        self.rev.append(Insn(code, 0, 0, k & U32))
        return len(self.rev) - 1

    def ja(self, target: int) -> int:
        return self.stmt(OP["JA"], len(self.rev) - target - 1)

    def jump(self, op: str, k: int, t: int, f: int) -> int:
        if t == f:
            return t
        while True:
            d = len(self.rev)
            jt, jf = d - t - 1, d - f - 1
            if jt > 255:
                t = self.ja(t)
            elif jf > 255:
                f = self.ja(f)
            else:
                self.rev.append(Insn(OP[op], jt, jf, k & U32))
                return d

    def ret(self, action: int) -> int:
        if action not in self._rets:
            self._rets[action] = self.stmt(OP["RET"], action)
        return self._rets[action]

    def load(self, offset: int) -> None:
        self.stmt(OP["LD_W_ABS"], offset)

    def program(self) -> list[Insn]:
        return self.rev[::-1]


def _cond(b: _Builder, c: Condition, t: int, f: int, wide: bool) -> int:
    """Emit `c` (true -> t, false -> f); return its entry label."""
    op = _OPS[c.op]
    lo_off, hi_off = OFF_ARGS + 8 * c.index, OFF_ARGS + 8 * c.index + 4
    a_lo, a_hi, b_lo, b_hi = c.a & U32, c.a >> 32, c.b & U32, c.b >> 32
    if op == "NE":
        return _cond(b, Condition(c.index, 4, c.a, c.b), f, t, wide)
    if op == "LT":
        return _cond(b, Condition(c.index, 5, c.a, c.b), f, t, wide)
    if op == "LE":
        return _cond(b, Condition(c.index, 6, c.a, c.b), f, t, wide)
    if op == "EQ":
        lab = b.jump("JEQ", a_lo, t, f)
        b.load(lo_off)
        lab = len(b.rev) - 1
        if wide:
            lab = b.jump("JEQ", a_hi, lab, f)
            b.load(hi_off)
            lab = len(b.rev) - 1
        return lab
    if op in ("GT", "GE"):
        lab = b.jump("JGT" if op == "GT" else "JGE", a_lo, t, f)
        b.load(lo_off)
        lab = len(b.rev) - 1
        if wide:
            lab = b.jump("JEQ", a_hi, lab, f)
            lab = b.jump("JGT", a_hi, t, lab)
            b.load(hi_off)
            lab = len(b.rev) - 1
        return lab
    if op == "MASKED_EQ":
        lab = b.jump("JEQ", b_lo, t, f)
        b.stmt(OP["AND"], a_lo)
        b.load(lo_off)
        lab = len(b.rev) - 1
        if wide and (a_hi or b_hi):
            lab = b.jump("JEQ", b_hi, lab, f)
            b.stmt(OP["AND"], a_hi)
            b.load(hi_off)
            lab = len(b.rev) - 1
        return lab
    raise InvalidArgument(f"seccomp: operator {c.op} is unknown")  # unreachable: the model checked it


def _syscall_block(b: _Builder, rules: list[Rule], default: int, wide: bool) -> int:
    """Rules for one syscall in profile order, first match wins; none -> default."""
    nxt = b.ret(default)
    for r in reversed(rules):
        if not r.conditions:
            nxt = b.ret(r.action)
            continue
        lab = b.ret(r.action)
        for c in reversed(r.conditions):
            lab = _cond(b, c, lab, nxt, wide)
        nxt = lab
    return nxt


def _ranges(targets: dict[int, int], lo: int, hi: int, gap: int) -> list[tuple[int, int]]:
    """[(start, label)]: label holds on [start, next start); lo..hi covered, equal neighbours merged."""
    out: list[tuple[int, int]] = [(lo, gap)]
    for nr in sorted(targets):
        if not lo <= nr < hi:
            continue
        if out[-1][0] == nr:
            out[-1] = (nr, targets[nr])
        elif out[-1][1] != targets[nr]:
            out.append((nr, targets[nr]))
        if nr + 1 < hi and nr + 1 not in targets and gap != targets[nr]:
            out.append((nr + 1, gap))
    merged = [out[0]]
    for start, lab in out[1:]:
        if lab != merged[-1][1]:
            merged.append((start, lab))
    return merged


def _tree(b: _Builder, ranges: list[tuple[int, int]]) -> int:
    if len(ranges) == 1:
        return ranges[0][1]
    mid = len(ranges) // 2
    right = _tree(b, ranges[mid:])
    left = _tree(b, ranges[:mid])
    return b.jump("JGE", ranges[mid][0], right, left)


def _section(b: _Builder, table: dict[str, int], by_name: dict[str, list[Rule]], blocks: dict, default: int,
             wide: bool, lo: int, hi: int, gap: int, extra: dict[int, int] | None = None,
             enosys: int | None = None, last: int | None = None) -> int:
    """One ABI's dispatch on nr; with `enosys`, numbers above `last` (the profile's largest) return ENOSYS."""
    targets: dict[int, int] = {}
    for name, rules in by_name.items():
        nr = table.get(name)
        if nr is None:
            continue
        if not rules[0].conditions:  # the common case: an unconditional first rule decides alone
            targets[nr] = b.ret(rules[0].action)
            continue
        key = (name, wide)
        if key not in blocks:
            blocks[key] = _syscall_block(b, rules, default, wide)
        targets[nr] = blocks[key]
    targets.update(extra or {})
    ranges = _ranges(targets, lo, hi, gap)
    if enosys is not None and last is not None and lo <= last < hi - 1:
        if targets.get(U32) == gap:
            targets[U32] = enosys  # nr -1 too: runc's comparison is unsigned (and the kernel says ENOSYS)
        tail = last + 1
        ranges = _merge(_ranges(targets, lo, tail, gap) + _ranges(targets, tail, hi, enosys))
    return _tree(b, ranges)


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = [ranges[0]]
    for start, lab in ranges[1:]:
        if lab != out[-1][1]:
            out.append((start, lab))
    return out


def compile_insns(plan: Plan) -> list[Insn]:
    arches = syscalls.target_arches([name for name, v in ARCHES.items() if v in plan.arches])
    has_64, has_x32, has_32 = "SCMP_ARCH_X86_64" in arches, "SCMP_ARCH_X32" in arches, "SCMP_ARCH_X86" in arches
    by_name: dict[str, list[Rule]] = {}
    for r in plan.rules:
        by_name.setdefault(r.name, []).append(r)

    b = _Builder()
    default, bad = b.ret(plan.default_action), b.ret(plan.bad_arch_action)
    # runc's stub: a syscall above the largest number the profile names fails with ENOSYS, not
    # the default errno, so libc falls back to an older call. Only for the arches the profile
    # lists (none listed: no stub, as runc), and not when the default lets calls through.
    stub = wants_enosys_stub(plan)
    listed = set(plan.arches)
    blocks: dict = {}
    tables = syscalls.TABLES

    def stub_for(arch: str) -> dict:
        if not stub or ARCHES[arch] not in listed:
            return {}
        table = tables[ARCHES[arch]]
        numbers = [table[n] for n in plan.referenced if n in table]
        return {"enosys": b.ret(ENOSYS_ACTION), "last": max(numbers)} if numbers else {}

    l32 = bad
    if has_32:
        l32 = _section(b, tables[ARCHES["SCMP_ARCH_X86"]], by_name, blocks, plan.default_action, False, 0, 1 << 32, default,
                       extra={U32: default}, **stub_for("SCMP_ARCH_X86"))
        b.load(OFF_NR)
        l32 = len(b.rev) - 1
    # x32 numbers (and nr == -1) live above X32_BIT under AUDIT_ARCH_X86_64. Its arguments are
    # compared on the low word, as libseccomp (x32 is a 32-bit ABI to it) and so runc do: a deny
    # rule on an int argument can't be dodged by setting bits the kernel truncates away.
    lx32 = _section(b, tables[ARCHES["SCMP_ARCH_X32"]] if has_x32 else {}, by_name, blocks, plan.default_action,
                    False, X32_BIT, 1 << 32, default if has_x32 else bad, extra={U32: default},
                    **(stub_for("SCMP_ARCH_X32") if has_x32 else {}))
    l64 = bad
    if has_64:
        l64 = _section(b, tables[ARCHES["SCMP_ARCH_X86_64"]], by_name, blocks, plan.default_action, True, 0, X32_BIT, default,
                       **stub_for("SCMP_ARCH_X86_64"))
    lfam = b.jump("JGE", X32_BIT, lx32, l64)
    b.load(OFF_NR)
    lfam = len(b.rev) - 1

    nxt = b.jump("JEQ", ARCHES["SCMP_ARCH_X86"], l32, bad) if has_32 else bad
    b.jump("JEQ", ARCHES["SCMP_ARCH_X86_64"], lfam, nxt)
    b.load(OFF_ARCH)
    prog = b.program()
    if len(prog) > BPF_MAXINSNS:
        raise InvalidArgument(f"linux.seccomp: the filter needs {len(prog)} BPF instructions, above the kernel's {BPF_MAXINSNS}")
    return prog


def encode(prog: list[Insn]) -> bytes:
    return b"".join(_INSN.pack(i.code, i.jt, i.jf, i.k) for i in prog)


def compile_plan(plan: Plan) -> bytes:
    return encode(compile_insns(plan))
