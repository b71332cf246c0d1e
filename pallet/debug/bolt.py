"""A read-only reader of bbolt files (containerd's meta.db, Podman's bolt_state.db).

bbolt (go.etcd.io/bbolt, file format version 2) is a B+tree of fixed-size
pages. Everything needed to walk it:

    page header (16 bytes):   id u64 | flags u16 | count u16 | overflow u32
      flags: 0x01 branch, 0x02 leaf, 0x04 meta, 0x10 freelist
    meta (pages 0 and 1):     magic u32 = 0xED0CDAED | version u32 = 2 | pageSize u32 |
                              flags u32 | root bucket {root pgid u64, sequence u64} |
                              freelist u64 | pgid u64 | txid u64 | checksum u64 (FNV-1a 64)
    branch element (16):      pos u32 | ksize u32 | pgid u64        (key at element + pos)
    leaf element (16):        flags u32 | pos u32 | ksize u32 | vsize u32
                              (key at element + pos, value right after; flags 0x01: the
                              value is a sub-bucket {root u64, sequence u64}; root 0 means
                              an inline bucket whose page follows those 16 bytes)

The valid meta page with the highest txid is the current one. All
integers are little-endian (the file is not portable across endianness,
and every machine pallet runs on is little-endian).

Read-only: the file is read whole with a plain open(); bbolt's writers
use flock, but a reader that never writes needs no lock, and a torn
read shows up as a bad checksum or a page out of range, reported as
ValueError.
"""

from __future__ import annotations

import struct
from typing import Iterator

MAGIC = 0xED0CDAED
BRANCH, LEAF, META = 0x01, 0x02, 0x04
BUCKET_LEAF = 0x01
_PAGE_HEADER = struct.Struct("<QHHI")
_META = struct.Struct("<IIIIQQQQQQ")
_BRANCH_ELEM = struct.Struct("<IIQ")
_LEAF_ELEM = struct.Struct("<IIII")


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


class BoltFile:
    """Lifecycle: open (reads the file), walk buckets, drop. No writes, no locks."""

    def __init__(self, path: str) -> None:
        with open(path, "rb") as f:
            self.data = f.read()
        self.page_size, self.root = self._meta()

    def _meta(self) -> tuple[int, int]:
        best = None
        # page size is unknown until a meta page is read; meta 0 is at offset 0,
        # meta 1 at offset pageSize (read from meta 0's field, or tried at 4096).
        for offset in {0, self._page_size_hint()}:
            header = self.data[offset + _PAGE_HEADER.size: offset + _PAGE_HEADER.size + _META.size]
            if len(header) < _META.size:
                continue
            magic, version, page_size, _flags, root, _seq, _freelist, _pgid, txid, checksum = _META.unpack(header)
            if magic != MAGIC or version != 2:
                continue
            if _fnv1a64(header[: _META.size - 8]) != checksum:
                continue
            if best is None or txid > best[0]:
                best = (txid, page_size, root)
        if best is None:
            raise ValueError("not a bbolt file (no valid meta page)")
        return best[1], best[2]

    def _page_size_hint(self) -> int:
        raw = self.data[_PAGE_HEADER.size + 8: _PAGE_HEADER.size + 12]
        return struct.unpack("<I", raw)[0] if len(raw) == 4 else 4096

    def _page(self, pgid: int) -> tuple[int, int, int]:
        """(offset, flags, count) of page `pgid`."""
        offset = pgid * self.page_size
        if offset + _PAGE_HEADER.size > len(self.data):
            raise ValueError(f"bbolt page {pgid} is beyond the end of the file")
        _id, flags, count, _overflow = _PAGE_HEADER.unpack_from(self.data, offset)
        return offset, flags, count

    def _items(self, buf: bytes, offset: int, flags: int, count: int) -> Iterator[tuple[bytes, bytes, int]]:
        """(key, value, leaf flags) of a page at `offset` in `buf`, in key order."""
        elems = offset + _PAGE_HEADER.size
        if flags & BRANCH:
            for i in range(count):
                at = elems + i * _BRANCH_ELEM.size
                _pos, _ksize, child = _BRANCH_ELEM.unpack_from(buf, at)
                child_off, child_flags, child_count = self._page(child)
                yield from self._items(self.data, child_off, child_flags, child_count)
        elif flags & LEAF:
            for i in range(count):
                at = elems + i * _LEAF_ELEM.size
                lflags, pos, ksize, vsize = _LEAF_ELEM.unpack_from(buf, at)
                k = at + pos
                yield bytes(buf[k:k + ksize]), bytes(buf[k + ksize:k + ksize + vsize]), lflags
        else:
            raise ValueError(f"bbolt page at {offset} is neither branch nor leaf (flags {flags:#x})")

    def _bucket_items(self, root: int, inline: bytes | None) -> Iterator[tuple[bytes, bytes, int]]:
        if inline is not None:
            _id, flags, count, _ = _PAGE_HEADER.unpack_from(inline, 0)
            return self._items(inline, 0, flags, count)
        offset, flags, count = self._page(root)
        return self._items(self.data, offset, flags, count)

    def bucket(self, *path: bytes | str) -> "Bucket":
        b = Bucket(self, self.root, None)
        for name in path:
            b = b.bucket(name)
        return b


class Bucket:
    def __init__(self, file: BoltFile, root: int, inline: bytes | None) -> None:
        self.file, self.root, self.inline = file, root, inline

    def items(self) -> Iterator[tuple[bytes, bytes | "Bucket"]]:
        """(key, value) pairs; a sub-bucket's value is a Bucket."""
        for key, value, flags in self.file._bucket_items(self.root, self.inline):
            if flags & BUCKET_LEAF:
                root = struct.unpack_from("<Q", value, 0)[0]
                yield key, Bucket(self.file, root, value[16:] if root == 0 else None)
            else:
                yield key, value

    def get(self, key: bytes | str):
        key = key.encode() if isinstance(key, str) else key
        for k, v in self.items():
            if k == key:
                return v
        return None

    def bucket(self, name: bytes | str) -> "Bucket":
        b = self.get(name)
        if not isinstance(b, Bucket):
            raise KeyError(name)
        return b

    def buckets(self) -> Iterator[tuple[bytes, "Bucket"]]:
        for k, v in self.items():
            if isinstance(v, Bucket):
                yield k, v
