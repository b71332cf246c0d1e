"""Streaming tar header check: validates each member before its bytes go on.

`TarGuard.feed(data)` returns the bytes that may be forwarded to an
extractor: a member's header (with the GNU long-name / PAX records before
it) is held back until the member is checked, so the extractor never sees a
member we refuse. The model is exact because every layer is applied into an
empty directory: the guard knows every path that exists there.

Refused (InvalidArgument, one line naming the member):
  - a name or hard-link target with a `..` component, or absolute after
    stripping is impossible (leading `/` is stripped as every tar does);
  - a member whose parent is a symlink of the layer (an absolute symlink,
    or any other, followed by a later entry: CVE-2019-14271 style escapes);
  - a hard link whose target is not an earlier non-directory member;
  - a whiteout naming `.`/`..`/empty, or inside a refused path;
  - member types we do not apply (GNU sparse, multi-volume, dumpdir);
  - a bad header checksum or a truncated archive.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pallet.errors import InvalidArgument

BLOCK = 512
WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"

REGULAR = {b"0", b"\0", b"7"}
KINDS = {b"0": "f", b"\0": "f", b"7": "f", b"1": "h", b"2": "l", b"3": "c", b"4": "b", b"5": "d", b"6": "p"}
META = {b"L", b"K", b"x", b"g"}


def _num(field_: bytes, what: str, name: str) -> int:
    if field_ and field_[0] & 0x80:  # base-256 (GNU) for big values
        value = field_[0] & 0x7F
        for b in field_[1:]:
            value = (value << 8) | b
        return value
    s = field_.split(b"\0", 1)[0].strip()
    if not s:
        return 0
    try:
        return int(s, 8)
    except ValueError:
        raise InvalidArgument(f"corrupt tar archive: bad {what} field in the header of {name!r}") from None


def _str(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def normalize(name: str, member: str) -> str:
    """`./a//b/` -> `a/b`; '' for the root. Refuses `..` components."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"layer member {member!r} has a '..' component: refusing to apply the layer")
    return "/".join(parts)


@dataclass
class Member:
    name: str          # normalised
    kind: str          # f h l c b d p
    size: int
    linkname: str = ""
    mode: int = 0
    uid: int = 0
    gid: int = 0
    mtime: int = 0


@dataclass
class GuardResult:
    whiteouts: list[tuple[str, str]] = field(default_factory=list)   # (dir, name)
    opaque_dirs: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)              # path -> kind
    members: int = 0
    split_ok: bool = True   # every data byte can be read back from the extracted files
    split_problem: str = ""


class SplitRecorder:
    """Records a tar as its non-data bytes plus (path, size) references to file data.

    Format (zlib-compressed stream of records):
        b"R" + u64 length + bytes          raw tar bytes (headers, padding, end blocks)
        b"F" + u64 size + u32 len + path   `size` bytes of the extracted file `path`
    With the extracted layer dir this gives back the exact tar (its diff id),
    so uncompressed layers need not be stored twice (containers/storage's tar-split idea).
    """

    def __init__(self, out):
        import zlib

        self._out = out
        self._z = zlib.compressobj(1)
        self._buf = bytearray()   # encoded records not yet compressed
        self._raw = bytearray()   # raw bytes of the record being built

    def raw(self, data) -> None:
        self._raw += data

    def file(self, path: str, size: int) -> None:
        self._end_raw()
        p = path.encode("utf-8", "surrogateescape")
        self._buf += b"F" + size.to_bytes(8, "little") + len(p).to_bytes(4, "little") + p
        if len(self._buf) >= 1 << 20:
            self._out.write(self._z.compress(bytes(self._buf)))
            self._buf.clear()

    def _end_raw(self) -> None:
        if self._raw:
            self._buf += b"R" + len(self._raw).to_bytes(8, "little") + self._raw
            self._raw.clear()

    def close(self) -> None:
        self._end_raw()
        self._out.write(self._z.compress(bytes(self._buf)) + self._z.flush())
        self._buf.clear()


def read_split(f):
    """Yield ("R", bytes) and ("F", path, size) records from a split file."""
    import zlib

    d = zlib.decompressobj()
    buf = bytearray()
    eof = False

    def need(n):
        nonlocal eof
        while len(buf) < n and not eof:
            chunk = f.read(1 << 20)
            if not chunk:
                buf.extend(d.flush())
                eof = True
            else:
                buf.extend(d.decompress(chunk))
        if len(buf) < n:
            raise InvalidArgument("layer split record truncated")

    while True:
        if not buf:
            try:
                need(1)
            except InvalidArgument:
                return  # clean end between records
        kind = bytes(buf[:1])
        if kind == b"R":
            need(9)
            n = int.from_bytes(buf[1:9], "little")
            need(9 + n)
            yield ("R", bytes(buf[9:9 + n]))
            del buf[:9 + n]
        elif kind == b"F":
            need(13)
            size = int.from_bytes(buf[1:9], "little")
            plen = int.from_bytes(buf[9:13], "little")
            need(13 + plen)
            yield ("F", bytes(buf[13:13 + plen]).decode("utf-8", "surrogateescape"), size)
            del buf[:13 + plen]
        else:
            raise InvalidArgument("layer split record is corrupt")


class TarGuard:
    def __init__(self, recorder: SplitRecorder | None = None) -> None:
        self.result = GuardResult()
        self._rec_out = recorder
        self._data_left = 0        # file data bytes of the current member still to pass
        self._has_data: set[str] = set()
        self._hbuf = bytearray()
        self._held = bytearray()   # meta headers + records waiting for their member's header
        self._skip = 0             # member data (padded) to pass through
        self._capture = 0          # meta record bytes still to read into _rec
        self._capture_type = b""
        self._rec = bytearray()
        self._pax: dict[str, str] = {}
        self._longname = None
        self._longlink = None
        self._zero_blocks = 0
        self._ended = False

    # -- streaming ---------------------------------------------------------
    def feed(self, data) -> list:
        """Return a list of byte chunks safe to forward."""
        out: list = []
        mv = memoryview(data)
        pos, n = 0, len(mv)
        while pos < n:
            if self._ended:
                out.append(mv[pos:])
                if self._rec_out is not None:
                    self._rec_out.raw(mv[pos:])
                break
            if self._skip:
                k = min(self._skip, n - pos)
                piece = mv[pos:pos + k]
                out.append(piece)
                d = min(self._data_left, k)
                self._data_left -= d
                if d < k and self._rec_out is not None:
                    self._rec_out.raw(piece[d:])
                pos += k
                self._skip -= k
                continue
            if self._capture:
                k = min(self._capture, n - pos)
                self._rec += mv[pos:pos + k]
                self._held += mv[pos:pos + k]
                pos += k
                self._capture -= k
                if not self._capture:
                    self._meta_done()
                continue
            k = min(BLOCK - len(self._hbuf), n - pos)
            self._hbuf += mv[pos:pos + k]
            pos += k
            if len(self._hbuf) == BLOCK:
                block = bytes(self._hbuf)
                self._hbuf.clear()
                fwd = self._header(block)
                if fwd:
                    out.append(fwd)
        return out

    def finish(self) -> GuardResult:
        if self._skip or self._capture or self._hbuf or self._held:
            raise InvalidArgument("corrupt tar archive: unexpected end of data")
        if not self._ended and self.result.members == 0 and self._zero_blocks == 0:
            raise InvalidArgument("corrupt tar archive: no members")
        return self.result

    # -- headers -----------------------------------------------------------
    def _header(self, block: bytes) -> bytes:
        if block == bytes(BLOCK):
            self._zero_blocks += 1
            if self._held:
                raise InvalidArgument("corrupt tar archive: metadata record without a member")
            if self._zero_blocks >= 2:
                self._ended = True
            if self._rec_out is not None:
                self._rec_out.raw(block)
            return block
        if self._zero_blocks:
            self._zero_blocks = 0
        chk = _num(block[148:156], "checksum", "?")
        if chk != sum(block[:148]) + 256 + sum(block[156:]) and chk != sum(
                (b - 256 if b > 127 else b) for b in block[:148]) + 256 + sum((b - 256 if b > 127 else b) for b in block[156:]):
            raise InvalidArgument("corrupt tar archive: header checksum mismatch (not a tar file, or damaged)")
        typ = block[156:157]
        raw_name = _str(block[0:100])
        if block[257:262] == b"ustar" and block[345] != 0 and block[257:263] == b"ustar\x00":
            raw_name = _str(block[345:500]) + "/" + raw_name
        size = _num(block[124:136], "size", raw_name)
        padded = (size + BLOCK - 1) // BLOCK * BLOCK
        if typ in META:
            self._held += block
            self._capture = padded
            self._capture_type = typ
            self._rec.clear()
            self._rec_size = size
            if not padded:
                self._meta_done()
            return b""
        name = self._longname if self._longname is not None else raw_name
        linkname = self._longlink if self._longlink is not None else _str(block[157:257])
        name = self._pax.get("path", name)
        linkname = self._pax.get("linkpath", linkname)
        if "size" in self._pax:
            try:
                size = int(self._pax["size"])
            except ValueError:
                raise InvalidArgument(f"corrupt tar archive: bad PAX size for {name!r}") from None
            padded = (size + BLOCK - 1) // BLOCK * BLOCK
        self._pax, self._longname, self._longlink = {}, None, None
        kind = KINDS.get(typ)
        if kind is None:
            if typ == b"V":  # volume label: ignore
                self._held.clear()
                self._skip = 0
                return b""
            raise InvalidArgument(f"layer member {name!r} has unsupported tar type {typ.decode('latin-1')!r}")
        if kind != "f":
            padded = 0  # links, dirs, devices carry no data
        member = Member(name=name, kind=kind, size=size, linkname=linkname)
        self._check(member)
        self.result.members += 1
        fwd = bytes(self._held) + block
        self._held.clear()
        self._skip = padded
        if kind == "f" and size:
            self._data_left = size
        if self._rec_out is not None:
            self._rec_out.raw(fwd)
            if kind == "f" and size:
                path = normalize(name, name)
                self._rec_out.file(path, size)
                self._has_data.add(path)
        return fwd

    def _meta_done(self) -> None:
        rec = bytes(self._rec[:self._rec_size])
        typ = self._capture_type
        if typ == b"L":
            self._longname = _str(rec)
        elif typ == b"K":
            self._longlink = _str(rec)
        elif typ == b"x":
            self._pax.update(_parse_pax(rec))
        # 'g' (global PAX): nothing we use

    # -- the model -----------------------------------------------------------
    def _check(self, m: Member) -> None:
        paths = self.result.paths
        path = normalize(m.name, m.name)
        if not path:
            return  # the root itself
        if path in self._has_data and self.result.split_ok:
            self.result.split_ok = False
            self.result.split_problem = f"the layer has two entries for {m.name!r}"
        parts = path.split("/")
        prefix = ""
        for comp in parts[:-1]:
            prefix = comp if not prefix else prefix + "/" + comp
            k = paths.get(prefix)
            if k is None:
                paths[prefix] = "d"
            elif k == "l":
                raise InvalidArgument(f"layer member {m.name!r} goes through symlink {prefix!r} of the same layer: refusing to apply the layer")
            elif k != "d":
                raise InvalidArgument(f"layer member {m.name!r}: parent {prefix!r} is not a directory")
        base = parts[-1]
        parent = "/".join(parts[:-1])
        if base.startswith(WHITEOUT_PREFIX):
            if base == OPAQUE:
                self.result.opaque_dirs.append(parent)
            else:
                target = base[len(WHITEOUT_PREFIX):]
                if target in ("", ".", ".."):
                    raise InvalidArgument(f"whiteout {m.name!r} points outside its directory: refusing to apply the layer")
                self.result.whiteouts.append((parent, target))
            if m.kind not in "f":
                raise InvalidArgument(f"whiteout {m.name!r} is not a regular file")
            if m.size and self.result.split_ok:
                self.result.split_ok = False
                self.result.split_problem = f"whiteout {m.name!r} carries data"
        if m.kind == "h":
            target = normalize(m.linkname, m.name + " -> " + m.linkname)
            tk = paths.get(target)
            if tk is None or tk == "d" or not target:
                raise InvalidArgument(f"hard link {m.name!r} -> {m.linkname!r}: target is outside the layer or not an earlier file of it: refusing to apply the layer")
            # the target's parents were checked when it was added
            paths[path] = paths[target] if paths[target] != "h" else "f"
            return
        old = paths.get(path)
        if old == "d" and m.kind != "d":
            raise InvalidArgument(f"layer member {m.name!r} replaces a directory of the same layer")
        paths[path] = m.kind


def _parse_pax(rec: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    pos = 0
    while pos < len(rec):
        if rec[pos] == 0:
            break
        sp = rec.find(b" ", pos)
        if sp < 0:
            raise InvalidArgument("corrupt tar archive: bad PAX record")
        try:
            length = int(rec[pos:sp])
        except ValueError:
            raise InvalidArgument("corrupt tar archive: bad PAX record length") from None
        if length <= 0 or pos + length > len(rec):
            raise InvalidArgument("corrupt tar archive: bad PAX record length")
        kv = rec[sp + 1:pos + length - 1]
        k, eq, v = kv.partition(b"=")
        if eq:
            out[k.decode("utf-8", "surrogateescape")] = v.decode("utf-8", "surrogateescape")
        pos += length
    return out
