"""A tiny classic-BPF interpreter for seccomp programs (tests only): run a filter on a seccomp_data.

Implements what seccomp filters use (ld abs/imm/mem, st, alu, jmp, ret, tax/txa),
enough to run both our compiler's output and libseccomp's.
"""

from __future__ import annotations

import struct

_INSN = struct.Struct("=HBBI")
U32 = 0xFFFFFFFF


def decode(bpf: bytes) -> list[tuple[int, int, int, int]]:
    return [_INSN.unpack_from(bpf, i) for i in range(0, len(bpf), 8)]


def seccomp_data(nr: int, arch: int, args=(0, 0, 0, 0, 0, 0), ip: int = 0) -> bytes:
    args = list(args) + [0] * (6 - len(args))
    return struct.pack("=iIQ6Q", nr if nr < 2**31 else nr - 2**32, arch, ip, *[a & (2**64 - 1) for a in args])


def run(prog, data: bytes) -> int:
    """The filter's return value for `data`; raises on a malformed program (no backward jumps, in bounds)."""
    if isinstance(prog, (bytes, bytearray)):
        prog = decode(prog)
    A = X = 0
    mem = [0] * 16
    pc = 0
    steps = 0
    while True:
        steps += 1
        assert steps <= len(prog) + 1, "loop"
        code, jt, jf, k = prog[pc]
        cls = code & 0x07
        if cls == 0x00:  # LD
            mode, size = code & 0xE0, code & 0x18
            if mode == 0x20:  # ABS
                assert size == 0x00 and k % 4 == 0 and k + 4 <= len(data), f"bad load at {pc}"
                A = struct.unpack_from("=I", data, k)[0]
            elif mode == 0x00:  # IMM
                A = k
            elif mode == 0x60:  # MEM
                A = mem[k]
            elif mode == 0x80:  # LEN
                A = len(data)
            else:
                raise AssertionError(f"ld mode {code:#x}")
        elif cls == 0x01:  # LDX
            mode = code & 0xE0
            X = k if mode == 0x00 else mem[k] if mode == 0x60 else len(data)
        elif cls == 0x02:
            mem[k] = A
        elif cls == 0x03:
            mem[k] = X
        elif cls == 0x04:  # ALU
            op, src = code & 0xF0, (X if code & 0x08 else k)
            A = {
                0x00: lambda: A + src, 0x10: lambda: A - src, 0x20: lambda: A * src,
                0x30: lambda: A // src, 0x40: lambda: A | src, 0x50: lambda: A & src,
                0x60: lambda: A << src, 0x70: lambda: A >> src, 0x80: lambda: -A,
                0x90: lambda: A % src, 0xA0: lambda: A ^ src,
            }[op]() & U32
        elif cls == 0x05:  # JMP
            op, src = code & 0xF0, (X if code & 0x08 else k)
            if op == 0x00:
                pc += 1 + k
                continue
            cond = {0x10: A == src, 0x20: A > src, 0x30: A >= src, 0x40: bool(A & src)}[op]
            pc += 1 + (jt if cond else jf)
            continue
        elif cls == 0x06:  # RET
            return A if code & 0x18 == 0x10 else k
        elif cls == 0x07:  # MISC
            if code & 0xF8 == 0x00:
                X = A
            else:
                A = X
        pc += 1
