"""The runtime's modules in one file: `pallet-runtime` imports them without the path search.

Every `pallet-runtime run` imports about 45 pallet modules in the parent and
20 more in the container's init. Python's path-based import costs ~0.1 ms a
module before a line of it runs (directory lookups, stat, open and read of
the .pyc): ~5 ms of a `run` whose whole budget is runc's ~30 ms. `build()`
writes the compiled code of pallet.runtime, pallet.cgroups, pallet.linux,
pallet.oci and the top-level modules into pallet/__pycache__/runtime-bundle.*;
`install()` (the launcher calls it) puts a finder in front of the path
search that serves a module from the bundle when its source file is still
the one compiled (same size and mtime: one stat), and leaves every other
import, and every changed module, to the normal machinery. So a stale or
missing bundle only costs speed, never runs old code.

The file: the interpreter's bytecode magic, the length of the index, the
index (marshal: module -> source, mtime_ns, size, package?, offset,
length), then each module's marshalled code. A module's code is read
with one pread when it is imported, from the file the index came from
(the same inode: a rebuild renames a new file in; else the path search),
and no file stays open (no fd of ours may reach a container through
--preserve-fds).

    python -c "from pallet.runtime.bundle import build; build()"   # make venv, make bench
"""

from __future__ import annotations

import marshal
import os
import sys

# The runtime's packages, and those the `pallet` command imports on its hot paths (run, ps, stats: its launcher,
# pallet.cli.launcher, installs this bundle too); pallet.debug, .registry and .network take the path search.
PACKAGES = ("runtime", "cgroups", "linux", "oci", "cli", "engine", "metadata", "store")
_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the pallet package dir
PATH = os.path.join(_HERE, "__pycache__", f"runtime-bundle.{sys.implementation.cache_tag}")
_bootstrap = sys.modules["_frozen_importlib"]
_MAGIC = sys.modules["_frozen_importlib_external"].MAGIC_NUMBER


def build(path: str = PATH) -> int:
    """Compile the runtime's modules into `path` (atomically); return how many."""
    index, blobs, offset = {}, [], 0
    for top, dirs, files in os.walk(_HERE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(top, _HERE)
        if rel != "." and rel.split(os.sep)[0] not in PACKAGES:
            continue
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            src = os.path.join(top, name)
            parts = ["pallet"] + ([] if rel == "." else rel.split(os.sep))
            is_pkg = name == "__init__.py"
            modname = ".".join(parts if is_pkg else parts + [name[:-3]])
            st = os.stat(src)
            with open(src, "rb") as f:
                try:
                    code = compile(_without_docstrings(f.read(), src), src, "exec", dont_inherit=True)
                except SyntaxError:
                    continue  # being edited: its import will say what is wrong
            blob = marshal.dumps(code)
            index[modname] = (src, st.st_mtime_ns, st.st_size, is_pkg, offset, len(blob))
            blobs.append(blob)
            offset += len(blob)
    head = marshal.dumps(index)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(_MAGIC + len(head).to_bytes(4, "little") + head)
        f.write(b"".join(blobs))
    os.rename(tmp, path)
    return len(index)


def _without_docstrings(source: bytes, filename: str):
    """The module's syntax tree without its docstrings (module, class, function): ~8% less code to unmarshal
    on every command, and what -OO would drop, but asserts stay. Nothing in pallet reads __doc__."""
    import ast

    tree = ast.parse(source, filename)
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            if len(body) > 1:
                del body[0]
            else:
                body[0].value.value = None  # a body that is only a docstring keeps a statement
    return tree


class _Finder:
    """A meta path finder and loader for the bundle's still-current modules."""

    def __init__(self, path: str, entries: dict, base: int, ident: tuple[int, int]) -> None:
        self.path = path
        self.entries = entries
        self.base = base  # where the code blobs start
        self.ident = ident  # (st_dev, st_ino) of the file the index was read from

    def find_spec(self, name, path=None, target=None):
        entry = self.entries.get(name)
        if entry is None:
            return None
        src, mtime_ns, size, is_pkg, offset, length = entry
        try:
            st = os.stat(src)
            if st.st_mtime_ns != mtime_ns or st.st_size != size:
                return None  # edited since the build: the path search compiles the source
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                bst = os.fstat(fd)
                if (bst.st_dev, bst.st_ino) != self.ident:
                    return None  # rebuilt since we read the index
                blob = os.pread(fd, length, self.base + offset)
            finally:
                os.close(fd)
        except OSError:
            return None
        if len(blob) != length:
            return None
        spec = _bootstrap.ModuleSpec(name, self, origin=src, is_package=is_pkg, loader_state=blob)
        spec.has_location = True
        if is_pkg:
            spec.submodule_search_locations = [os.path.dirname(src)]
        return spec

    def create_module(self, spec):
        return None

    def exec_module(self, module) -> None:
        exec(marshal.loads(module.__spec__.loader_state), module.__dict__)


def install(path: str = PATH) -> bool:
    """Serve imports from the bundle at `path` if there is a valid one; True if installed."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            head = f.read(len(_MAGIC) + 4)
            if head[:len(_MAGIC)] != _MAGIC:
                return False  # another Python's bytecode
            size = int.from_bytes(head[len(_MAGIC):], "little")
            entries = marshal.loads(f.read(size))
    except (OSError, EOFError, ValueError, TypeError):
        return False
    # Before the path finder, after the builtin and frozen ones.
    sys.meta_path.insert(len(sys.meta_path) - 1, _Finder(path, entries, len(_MAGIC) + 4 + size, (st.st_dev, st.st_ino)))
    return True
