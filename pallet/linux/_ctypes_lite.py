"""The part of ctypes that pallet.linux uses, built on the `_ctypes` extension alone.

`import ctypes` costs ~3 ms over the C extension it wraps (dozens of type
classes, struct, the byte-order structures, the pointer and function
caches), on the path of every container start: the runtime's parent and
the container's init each would pay it. This module defines only what the
syscall wrappers need, under ctypes' own names, so a module switches by
`from pallet.linux import _ctypes_lite as ctypes` and reads the same. The
types are the extension's (ctypes' are built the same way), so they mix
with real ctypes objects where another module (seccomp, bpf) uses those.
"""

from __future__ import annotations

import _ctypes
from _ctypes import Array, Structure, addressof, byref, get_errno, set_errno, sizeof  # noqa: F401

_SimpleCData = _ctypes._SimpleCData


def _simple(name: str, code: str) -> type:
    """A fundamental C type, as ctypes defines it: a direct subclass with its format code."""
    return type(name, (_SimpleCData,), {"_type_": code, "__module__": __name__})


c_int, c_uint = _simple("c_int", "i"), _simple("c_uint", "I")
c_long, c_ulong = _simple("c_long", "l"), _simple("c_ulong", "L")
c_ushort, c_ubyte = _simple("c_ushort", "H"), _simple("c_ubyte", "B")
c_char, c_char_p, c_void_p = _simple("c_char", "c"), _simple("c_char_p", "z"), _simple("c_void_p", "P")

# LP64 (x86_64, aarch64), as ctypes aliases them there.
c_int32, c_uint32 = c_int, c_uint
c_int64, c_uint64, c_size_t, c_ssize_t = c_long, c_ulong, c_ulong, c_long
c_uint16, c_uint8 = c_ushort, c_ubyte


def create_string_buffer(init: bytes, size: int | None = None) -> Array:
    """ctypes.create_string_buffer for bytes: a char array holding `init` (NUL-padded to `size`)."""
    buf = (c_char * (len(init) + 1 if size is None else size))()
    buf.value = init
    return buf


class CDLL:
    """ctypes.CDLL for a loaded library: `lib.name` is a C function (int result by default)
    whose argtypes and restype can be set, kept on the instance as ctypes does."""

    def __init__(self, name: str | None, use_errno: bool = False) -> None:
        flags = _ctypes.FUNCFLAG_CDECL | (_ctypes.FUNCFLAG_USE_ERRNO if use_errno else 0)

        class _FuncPtr(_ctypes.CFuncPtr):
            _flags_ = flags
            _restype_ = c_int

        self._FuncPtr = _FuncPtr
        self._name = name
        self._handle = _ctypes.dlopen(name)

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        func = self._FuncPtr((name, self))
        func.__name__ = name
        setattr(self, name, func)
        return func
