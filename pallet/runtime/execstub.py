"""The last execve goes through a tiny sealed static ELF, never the host interpreter.

CVE-2019-5736: a container program `#!/proc/self/exe` makes the kernel run
whatever binary performs the execve. Here that would be the host's
python, which the container could then rewrite via /proc/self/exe.
So the container init (the host python, non-dumpable since before it
joined any namespace) execveat()s this stub from a sealed memfd; the stub
execve()s the real program. If the container re-enters it through
`#!/proc/self/exe`, /proc/self/exe is the sealed memfd (not writable, not
a host file) and the stub refuses to run: its argv[0] is not MAGIC, it
exits 126.

    stub argv: [MAGIC, path, argv0, argv1, ...]  ->  execve(path, [argv0, argv1, ...], envp)

The machine code (x86-64, 77 bytes; 197 with the headers) is written here by hand, one
instruction per line; `build()` lays out the ELF header and program header.
"""

from __future__ import annotations

import os

from pallet.linux.misc import AT_EMPTY_PATH, execveat

MAGIC = b"pallet-x"  # exactly 8 bytes: compared as one qword
EXIT_NOT_STUB = 126  # started through /proc/self/exe or without MAGIC
EXIT_EXEC_FAILED = 127
_BASE = 0x400000
_HEADERS = 64 + 56


def _le(value: int, size: int) -> bytes:
    """Little-endian, `size` bytes (struct's "<B/H/I/Q" without importing struct: ~0.4 ms of every create)."""
    return value.to_bytes(size, "little")


def _code() -> bytes:
    out = bytearray()
    fixups = []  # (position of rel8, label)
    labels = {}

    def emit(b: bytes) -> None:
        out.extend(b)

    def jcc(op: int, label: str) -> None:
        out.append(op)
        fixups.append((len(out), label))
        out.append(0)

    emit(b"\x48\x8b\x7c\x24\x08")               # mov  rdi, [rsp+8]        ; argv[0]
    emit(b"\x48\xb8" + MAGIC)                   # mov  rax, MAGIC
    emit(b"\x48\x39\x07")                       # cmp  [rdi], rax
    jcc(0x75, "refuse")                         # jne  refuse
    emit(b"\x80\x7f\x08\x00")                   # cmp  byte [rdi+8], 0
    jcc(0x75, "refuse")                         # jne  refuse
    emit(b"\x48\x8b\x0c\x24")                   # mov  rcx, [rsp]          ; argc
    emit(b"\x48\x83\xf9\x03")                   # cmp  rcx, 3
    jcc(0x7C, "refuse")                         # jl   refuse
    emit(b"\x48\x8b\x7c\x24\x10")               # mov  rdi, [rsp+16]       ; path = argv[1]
    emit(b"\x48\x8d\x74\x24\x18")               # lea  rsi, [rsp+24]       ; &argv[2]
    emit(b"\x48\x8d\x54\xcc\x10")               # lea  rdx, [rsp+rcx*8+16] ; envp
    emit(b"\xb8\x3b\x00\x00\x00")               # mov  eax, 59 (execve)
    emit(b"\x0f\x05")                           # syscall
    emit(b"\xbf" + _le(EXIT_EXEC_FAILED, 4))   # mov  edi, 127
    jcc(0xEB, "exit")                           # jmp  exit
    labels["refuse"] = len(out)
    emit(b"\xbf" + _le(EXIT_NOT_STUB, 4))      # mov  edi, 126
    labels["exit"] = len(out)
    emit(b"\xb8\xe7\x00\x00\x00")               # mov  eax, 231 (exit_group)
    emit(b"\x0f\x05")                           # syscall
    for pos, label in fixups:
        out[pos] = (labels[label] - (pos + 1)) & 0xFF
    return bytes(out)


def build() -> bytes:
    code = _code()
    size = _HEADERS + len(code)
    ehdr = b"".join((
        b"\x7fELF", bytes((2, 1, 1, 0, 0)), b"\0" * 7,  # ELFCLASS64, little endian, SYSV
        _le(2, 2), _le(0x3E, 2), _le(1, 4),  # ET_EXEC, EM_X86_64, EV_CURRENT
        _le(_BASE + _HEADERS, 8), _le(64, 8), _le(0, 8),  # e_entry, e_phoff, e_shoff
        _le(0, 4), _le(64, 2), _le(56, 2), _le(1, 2), _le(0, 2), _le(0, 2), _le(0, 2),
        # flags, ehsize, phentsize, phnum, shentsize, shnum, shstrndx
    ))
    phdr = b"".join((_le(1, 4), _le(5, 4), *(_le(v, 8) for v in (0, _BASE, _BASE, size, size, 0x1000))))  # PT_LOAD, R+X
    return ehdr + phdr + code


def supported() -> bool:
    return os.uname().machine == "x86_64"


def open_stub() -> int:
    """A sealed, close-on-exec memfd holding the stub (F_SEAL_SEAL|SHRINK|GROW|WRITE)."""
    import fcntl

    fd = os.memfd_create("pallet-exec", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, build())
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    return fd


def exec_program(stub_fd: int | None, path: str, argv: list[str], env: list[str]) -> None:
    """Replace this process with `path argv...` (through the stub when we have one). Raises OSError."""
    if stub_fd is None:
        os.execve(path, argv, dict(e.split("=", 1) for e in env))
    execveat(stub_fd, "", [MAGIC.decode(), path] + list(argv), list(env), AT_EMPTY_PATH)
