"""rm -rf without shutil: importing shutil (bz2, lzma, fnmatch) costs ~2.5 ms, paid by every `run --rm` and
runtime `delete` that removes a directory tree. Never follows a symlink: a link inside is unlinked, not entered."""

from __future__ import annotations

import os


def remove_tree(path: str, *, ignore_errors: bool = False) -> None:
    """Remove `path` and everything below it; a missing path is no error. With `ignore_errors`, whatever cannot be
    removed (busy, immutable) is skipped and the rest still goes, so a later pass (GC, repair) can retry."""
    try:
        entries = list(os.scandir(path))
    except FileNotFoundError:
        return
    except NotADirectoryError:
        _attempt(os.unlink, path, ignore_errors)
        return
    except OSError:
        if not ignore_errors:
            raise
        entries = []
    for e in entries:
        try:
            is_dir = e.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            remove_tree(e.path, ignore_errors=ignore_errors)
        else:
            _attempt(os.unlink, e.path, ignore_errors)
    _attempt(os.rmdir, path, ignore_errors)


def _attempt(op, path: str, ignore_errors: bool) -> None:
    try:
        op(path)
    except FileNotFoundError:
        pass
    except OSError:
        if not ignore_errors:
            raise
