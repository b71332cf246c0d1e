"""Compile device rules into a BPF_PROG_TYPE_CGROUP_DEVICE program.

The kernel calls the program on every device access with

    struct bpf_cgroup_dev_ctx {
        __u32 access_type;  /* (access << 16) | type */
        __u32 major;
        __u32 minor;
    };

and allows the access when it returns 1. The input is the emulator's
result (`cgroups.devices.DeviceRules`): a default and exceptions of the
opposite meaning, so the order of the blocks does not matter and v2
enforces exactly what v1's devices.allow/deny would.

Layout::

    r2 = ctx->access_type & 0xffff     type
    r3 = ctx->access_type >> 16        requested access bits
    r4 = ctx->major ; r5 = ctx->minor
    for each exception:                one block, jumps to the next block
        if r2 != TYPE goto next           (left out for a wildcard)
        allow rule: if (r3 & BITS) != r3 goto next   every bit granted
        deny rule:  if (r3 & BITS) == 0  goto next   any bit refused (v1's rule)
        if r4 != MAJOR goto next          (left out for *)
        if r5 != MINOR goto next          (left out for *)
        r0 = ALLOW ; exit
    r0 = DEFAULT ; exit
"""

from __future__ import annotations

import struct

from pallet.cgroups.devices import DeviceRules

# include/uapi/linux/bpf.h
DEV_TYPE = {"b": 1, "c": 2}                 # BPF_DEVCG_DEV_BLOCK / _CHAR
ACCESS = {"m": 1, "r": 2, "w": 4}           # BPF_DEVCG_ACC_MKNOD / _READ / _WRITE

# Opcodes (class | op | source) used here.
OP = {
    "ldxw": 0x61,        # BPF_LDX | BPF_MEM | BPF_W
    "mov64_imm": 0xB7,   # BPF_ALU64 | BPF_MOV | BPF_K
    "mov64_reg": 0xBF,   # BPF_ALU64 | BPF_MOV | BPF_X
    "and64_imm": 0x57,   # BPF_ALU64 | BPF_AND | BPF_K
    "rsh64_imm": 0x77,   # BPF_ALU64 | BPF_RSH | BPF_K
    "jne_imm": 0x55,     # BPF_JMP | BPF_JNE | BPF_K
    "jne_reg": 0x5D,     # BPF_JMP | BPF_JNE | BPF_X
    "jeq_imm": 0x15,     # BPF_JMP | BPF_JEQ | BPF_K
    "exit": 0x95,        # BPF_JMP | BPF_EXIT
}

Insn = tuple[str, int, int, int, int]   # (op, dst, src, off, imm); off "NEXT" patched per block
NEXT = object()


def _insn(op: str, dst: int = 0, src: int = 0, off=0, imm: int = 0):
    return (op, dst, src, off, imm)


def _bits(access: str) -> int:
    return sum(ACCESS[c] for c in access)


def _block(r, allow: bool) -> list:
    body = []
    if r.type in DEV_TYPE:
        body.append(_insn("jne_imm", 2, 0, NEXT, DEV_TYPE[r.type]))
    bits = _bits(r.access)
    if bits != 7:
        body.append(_insn("mov64_reg", 1, 3))
        body.append(_insn("and64_imm", 1, 0, 0, bits))
        if allow:
            body.append(_insn("jne_reg", 1, 3, NEXT))
        else:
            body.append(_insn("jeq_imm", 1, 0, NEXT, 0))
    if r.major is not None:
        body.append(_insn("jne_imm", 4, 0, NEXT, r.major))
    if r.minor is not None:
        body.append(_insn("jne_imm", 5, 0, NEXT, r.minor))
    body += [_insn("mov64_imm", 0, 0, 0, 1 if allow else 0), _insn("exit")]
    # A jump's offset counts from the instruction after it to the block's end.
    return [(op, d, s, (len(body) - i - 1) if off is NEXT else off, imm)
            for i, (op, d, s, off, imm) in enumerate(body)]


def compile_program(rules: DeviceRules) -> list[Insn]:
    prog = [
        _insn("ldxw", 2, 1, 0),
        _insn("mov64_reg", 3, 2),
        _insn("and64_imm", 2, 0, 0, 0xFFFF),
        _insn("rsh64_imm", 3, 0, 0, 16),
        _insn("ldxw", 4, 1, 4),
        _insn("ldxw", 5, 1, 8),
    ]
    for r in rules.exceptions:
        prog += _block(r, r.allow)
    prog += [_insn("mov64_imm", 0, 0, 0, 1 if rules.default_allow else 0), _insn("exit")]
    return prog


def encode(prog: list[Insn]) -> bytes:
    """struct bpf_insn { __u8 code; __u8 dst_reg:4, src_reg:4; __s16 off; __s32 imm; }"""
    return b"".join(struct.pack("<BBhi", OP[op], (src << 4) | dst, off, imm) for op, dst, src, off, imm in prog)


def run(prog: list[Insn], type: str, major: int, minor: int, access: str) -> int:
    """Interpret the program in Python: the unit tests' stand-in for the kernel."""
    regs = [0] * 11
    ctx = [((_bits(access) << 16) | DEV_TYPE[type]), major, minor]
    pc = 0
    while True:
        op, dst, src, off, imm = prog[pc]
        pc += 1
        if op == "ldxw":
            regs[dst] = ctx[off // 4]
        elif op == "mov64_imm":
            regs[dst] = imm
        elif op == "mov64_reg":
            regs[dst] = regs[src]
        elif op == "and64_imm":
            regs[dst] &= imm
        elif op == "rsh64_imm":
            regs[dst] >>= imm
        elif op == "jne_imm":
            pc += off if regs[dst] != imm else 0
        elif op == "jeq_imm":
            pc += off if regs[dst] == imm else 0
        elif op == "jne_reg":
            pc += off if regs[dst] != regs[src] else 0
        elif op == "exit":
            return regs[0]
