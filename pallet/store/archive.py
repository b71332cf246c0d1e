"""Image archives: Docker's `save` format (20.10 and 25+) and OCI layouts, read and written.

Reading (`open_archive`): the tar is indexed once (member -> offset, size)
and members are read in place; a gzip-compressed archive or a pipe is first
spooled to a temp file. `images()` describes each image in it:

  - manifest.json (Docker 20.10 `<id>/layer.tar`, Docker 25+ and skopeo
    `blobs/sha256/<hex>` or `<hex>.tar`): Config, RepoTags, Layers;
  - otherwise index.json + oci-layout (OCI archive; skopeo oci-archive,
    containerd), names from `io.containerd.image.name` or
    `org.opencontainers.image.ref.name` (when it is a full reference).

Writing (`write_docker_archive`, `write_oci_archive`): the Docker format is
written the way Docker 25+ does, an OCI layout plus manifest.json and
repositories, so both Docker-archive readers (docker 20.10, skopeo) and OCI
readers (umoci, skopeo oci:) take it. Layers are uncompressed there (Docker
requires it); the OCI archive keeps the stored blobs as they are.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from typing import BinaryIO, Callable

from pallet.errors import InvalidArgument, NotFound
from pallet.oci import digest as _digest
from pallet.oci import image as oci
from pallet.oci import reference as _ref

EXCLUDED_BASE_KEY = "PalletExcludedBase"
MAX_JSON = 64 << 20


class _Section(io.RawIOBase):
    """A read-only window [offset, offset+size) of a file."""

    def __init__(self, fd: int, offset: int, size: int):
        self.fd, self.pos, self.end = fd, offset, offset + size

    def readable(self):
        return True

    def read(self, n=-1):
        if n is None or n < 0:
            n = self.end - self.pos
        n = min(n, self.end - self.pos)
        if n <= 0:
            return b""
        data = os.pread(self.fd, n, self.pos)
        if not data:
            raise InvalidArgument("archive truncated")
        self.pos += len(data)
        return data

    def readinto(self, b):
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


@dataclass
class LayerRef:
    """One layer of an image in the archive; `path` is None when the archive lacks the file."""
    path: str | None
    size: int
    media_type: str = ""
    digest: str = ""  # blob digest if known (OCI), else '' (computed on read)


@dataclass
class ArchiveImage:
    config_bytes: bytes
    layers: list[LayerRef]
    names: list[str]               # normalised references
    manifest_bytes: bytes = b""    # OCI/Docker manifest when the archive has one
    excluded_base: dict = field(default_factory=dict)
    where: str = ""                # for messages


class Archive:
    def __init__(self, path: str, *, cleanup: str = ""):
        self.path = path
        self._cleanup = cleanup
        self.fd = os.open(path, os.O_RDONLY)
        self.members: dict[str, tuple[int, int]] = {}
        links: dict[str, str] = {}
        try:
            with tarfile.open(path, "r:") as tf:
                for ti in tf:
                    name = _clean(ti.name)
                    if ti.isreg():
                        self.members[name] = (ti.offset_data, ti.size)
                    elif ti.issym() or ti.islnk():
                        links[name] = ti.linkname
        except tarfile.TarError as exc:
            self.close()
            raise InvalidArgument(f"invalid archive: not a tar file ({exc})") from None
        # Docker 20.10 stores a layer shared by several saved images once and points the
        # others at it: `<id>/layer.tar -> ../<other id>/layer.tar`. Resolve such links
        # inside the archive (never outside it).
        for name, target in links.items():
            hops, cur, tgt = 0, name, target
            while hops < 8:
                if tgt.startswith("/"):
                    break
                parts = (cur.rpartition("/")[0] + "/" + tgt).split("/") if not tgt.startswith("/") else []
                out: list[str] = []
                for part in parts:
                    if part in ("", "."):
                        continue
                    if part == "..":
                        if not out:
                            out = None
                            break
                        out.pop()
                    else:
                        out.append(part)
                if out is None:
                    break
                resolved = "/".join(out)
                if resolved in self.members:
                    self.members[name] = self.members[resolved]
                    break
                if resolved not in links:
                    break
                cur, tgt, hops = resolved, links[resolved], hops + 1

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self._cleanup:
            os.unlink(self._cleanup)
            self._cleanup = ""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def has(self, name: str) -> bool:
        return _clean(name) in self.members

    def open(self, name: str) -> BinaryIO:
        try:
            off, size = self.members[_clean(name)]
        except KeyError:
            raise NotFound(f"invalid archive: {name} is missing") from None
        r = io.BufferedReader(_Section(self.fd, off, size), 1 << 20)
        r.pallet_section = (self.fd, off, size)  # lets layer.apply_tar read it in place
        return r

    def size(self, name: str) -> int:
        return self.members[_clean(name)][1]

    def read(self, name: str) -> bytes:
        if self.size(name) > MAX_JSON:
            raise InvalidArgument(f"invalid archive: {name} is too large")
        with self.open(name) as f:
            return f.read()

    def json(self, name: str):
        try:
            return json.loads(self.read(name))
        except ValueError:
            raise InvalidArgument(f"invalid archive: {name} is not JSON") from None

    # -- formats -------------------------------------------------------------
    def images(self) -> list[ArchiveImage]:
        if self.has("manifest.json"):
            return self._docker_images()
        if self.has("index.json"):
            return self._oci_images()
        if self.has("repositories"):
            raise InvalidArgument("unsupported archive: a pre-1.10 Docker image (no manifest.json)")
        raise InvalidArgument("invalid archive: neither manifest.json nor index.json found (not an image archive)")

    def _docker_images(self) -> list[ArchiveImage]:
        entries = self.json("manifest.json")
        if not isinstance(entries, list) or not entries:
            raise InvalidArgument("invalid archive: manifest.json is not a non-empty list")
        out = []
        for i, e in enumerate(entries):
            if not isinstance(e, dict) or not isinstance(e.get("Config"), str) or not isinstance(e.get("Layers"), list):
                raise InvalidArgument(f"invalid archive: manifest.json entry {i} lacks Config or Layers")
            config = self.read(e["Config"]) if self.has(e["Config"]) else None
            if config is None:
                raise InvalidArgument(f"invalid archive: config {e['Config']} of manifest.json entry {i} is missing")
            layers = []
            sources = e.get("LayerSources") or {}
            for p in e["Layers"]:
                if not isinstance(p, str):
                    raise InvalidArgument(f"invalid archive: manifest.json entry {i} has a non-string layer")
                if self.has(p):
                    media = ""
                    dig = ""
                    if p.startswith("blobs/sha256/"):
                        dig = "sha256:" + p.rsplit("/", 1)[1]
                    layers.append(LayerRef(p, self.size(p), media, dig))
                else:
                    layers.append(LayerRef(None, 0))
            names = []
            for t in e.get("RepoTags") or ():
                names.append(_ref.parse(t).name)
            out.append(ArchiveImage(config_bytes=config, layers=layers, names=names,
                                    excluded_base=e.get(EXCLUDED_BASE_KEY) or {}, where=f"manifest.json entry {i}"))
            del sources
        return out

    def _oci_images(self) -> list[ArchiveImage]:
        index = oci.Index.from_bytes(self.read("index.json"))
        out = []
        for desc in index.manifests:
            out.extend(self._oci_manifest(desc, _oci_names(desc)))
        if not out:
            raise InvalidArgument("invalid archive: index.json lists no image manifest")
        return out

    def _blob(self, digest: str) -> str:
        return "blobs/" + _digest.validate(digest).replace(":", "/")

    def _oci_manifest(self, desc: oci.Descriptor, names: list[str]) -> list[ArchiveImage]:
        data = self.read(self._blob(desc.digest))
        if _digest.of_bytes(data) != desc.digest:
            raise InvalidArgument(f"invalid archive: manifest {desc.digest}: digest mismatch")
        if desc.media_type in oci.INDEX_TYPES or b'"manifests"' in data[:4096] and b'"layers"' not in data:
            idx = oci.Index.from_bytes(data)
            chosen = [m for m in idx.manifests if (m.platform or {}).get("os", "linux") == "linux"
                      and (m.platform or {}).get("architecture", _host_arch()) == _host_arch()]
            res = []
            for m in chosen[:1] or idx.manifests[:1]:
                res.extend(self._oci_manifest(m, names or _oci_names(m)))
            return res
        man = oci.Manifest.from_bytes(data)
        config = self.read(self._blob(man.config.digest))
        if _digest.of_bytes(config) != man.config.digest:
            raise InvalidArgument(f"invalid archive: config {man.config.digest}: digest mismatch")
        layers = []
        for l in man.layers:
            p = self._blob(l.digest)
            if self.has(p):
                if self.size(p) != l.size:
                    raise InvalidArgument(f"invalid archive: layer {l.digest}: size {self.size(p)} != {l.size} in the manifest")
                layers.append(LayerRef(p, l.size, l.media_type, l.digest))
            else:
                layers.append(LayerRef(None, l.size, l.media_type, l.digest))
        return [ArchiveImage(config_bytes=config, layers=layers, names=names, manifest_bytes=data,
                             excluded_base=dict(json.loads(man.annotations.get("io.pallet.excluded-base", "{}"))),
                             where=f"manifest {desc.digest}")]


def _host_arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(m, m)


def _oci_names(desc: oci.Descriptor) -> list[str]:
    ann = desc.annotations or {}
    for key in (oci.ANNOTATION_CONTAINERD_NAME, oci.ANNOTATION_REF_NAME):
        v = ann.get(key)
        if v and ("/" in v or ":" in v) and _ref.looks_like_reference(v):
            return [_ref.parse(v).name]
    return []


def _clean(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name.lstrip("/")


def open_archive(src: BinaryIO | str, spool_dir: str) -> Archive:
    """Open an archive from a path or a stream; spool pipes and gzip to a temp file in `spool_dir`."""
    if isinstance(src, str):
        try:
            f = open(src, "rb")
        except FileNotFoundError:
            raise NotFound(f"open {src}: no such file") from None
        with f:
            head = f.read(4)
            if not head.startswith(b"\x1f\x8b") and not head.startswith(b"\x28\xb5\x2f\xfd"):
                return Archive(src)
            f.seek(0)
            return _spool(f, spool_dir, head)
    head = src.read(4) if hasattr(src, "read") else b""
    return _spool(src, spool_dir, head)


def _spool(src: BinaryIO, spool_dir: str, head: bytes) -> Archive:
    os.makedirs(spool_dir, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix=f"{os.getpid()}-load-", dir=spool_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            from pallet.store.layer import decompressor, detect_compression

            comp = detect_compression(head)
            dec = decompressor(comp)
            try:
                data = head
                while True:
                    if data:
                        out.write(dec.decompress(data))
                    data = src.read(1 << 20)
                    if not data:
                        break
                out.write(dec.flush())
            except (OSError, EOFError, ValueError) as exc:
                raise InvalidArgument(f"invalid archive: corrupt {comp or 'tar'} data ({exc})") from None
        return Archive(path, cleanup=path)
    except BaseException:
        if os.path.exists(path):
            os.unlink(path)
        raise


# -- writing ---------------------------------------------------------------------

@dataclass
class SaveLayer:
    diff_id: str
    open_uncompressed: Callable[[], tuple[BinaryIO, int]] | None  # None: excluded
    blob_digest: str = ""
    blob_size: int = 0
    blob_media_type: str = ""
    open_blob: Callable[[], BinaryIO] | None = None


@dataclass
class SaveImage:
    config_bytes: bytes
    config_digest: str
    names: list[str]                # normalised
    layers: list[SaveLayer]
    manifest_bytes: bytes = b""     # stored manifest (OCI archive keeps it)
    manifest_digest: str = ""
    excluded_base: dict = field(default_factory=dict)


class _TarOut:
    def __init__(self, out: BinaryIO):
        self.tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, bufsize=1 << 20)
        self.tf.copybufsize = 1 << 20
        self.done: set[str] = set()

    def dir(self, name: str):
        if name in self.done:
            return
        ti = tarfile.TarInfo(name)
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        self.tf.addfile(ti)
        self.done.add(name)

    def bytes(self, name: str, data: bytes):
        if name in self.done:
            return
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mode = 0o644
        self.tf.addfile(ti, io.BytesIO(data))
        self.done.add(name)

    def stream(self, name: str, f: BinaryIO, size: int):
        if name in self.done:
            return
        ti = tarfile.TarInfo(name)
        ti.size = size
        ti.mode = 0o644
        self.tf.addfile(ti, f)
        self.done.add(name)

    def close(self):
        self.tf.close()


def write_docker_archive(images: list[SaveImage], out: BinaryIO) -> None:
    """Docker 25+ layout: oci-layout, index.json, blobs/sha256/*, manifest.json, repositories."""
    t = _TarOut(out)
    t.dir("blobs/")
    t.dir("blobs/sha256/")
    manifest_json, index_manifests, repositories = [], [], {}
    for img in images:
        layer_paths, layer_descs = [], []
        for l in img.layers:
            path = "blobs/sha256/" + _digest.hex_of(l.diff_id)
            layer_paths.append(path)
            if l.open_uncompressed is None:
                layer_descs.append({"mediaType": oci.OCI_LAYER, "digest": l.diff_id, "size": 0})
                continue
            f, size = l.open_uncompressed()
            with f:
                t.stream(path, f, size)
            layer_descs.append({"mediaType": oci.OCI_LAYER, "digest": l.diff_id, "size": size})
        cfg_path = "blobs/sha256/" + _digest.hex_of(img.config_digest)
        t.bytes(cfg_path, img.config_bytes)
        man = {"schemaVersion": 2, "mediaType": oci.OCI_MANIFEST,
               "config": {"mediaType": oci.OCI_CONFIG, "digest": img.config_digest, "size": len(img.config_bytes)},
               "layers": layer_descs}
        if img.excluded_base:
            man["annotations"] = {"io.pallet.excluded-base": json.dumps(img.excluded_base, sort_keys=True)}
        man_bytes = oci.dumps(man)
        man_digest = _digest.of_bytes(man_bytes)
        t.bytes("blobs/sha256/" + _digest.hex_of(man_digest), man_bytes)
        tags = [_ref.familiar(n) for n in img.names if "@" not in n]
        entry = {"Config": cfg_path, "RepoTags": tags or None, "Layers": layer_paths}
        if img.excluded_base:
            entry[EXCLUDED_BASE_KEY] = img.excluded_base
        manifest_json.append(entry)
        for n in img.names or [""]:
            d = {"mediaType": oci.OCI_MANIFEST, "digest": man_digest, "size": len(man_bytes)}
            if n:
                repo, _, tag = _ref.split_tag(n)
                d["annotations"] = {oci.ANNOTATION_CONTAINERD_NAME: n, oci.ANNOTATION_REF_NAME: tag}
                repositories.setdefault(_ref.familiar_repository(repo), {})[tag] = _digest.hex_of(img.layers[-1].diff_id) if img.layers else ""
            index_manifests.append(d)
    t.bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    t.bytes("index.json", oci.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index_manifests}))
    t.bytes("manifest.json", json.dumps(manifest_json, separators=(",", ":")).encode())
    if repositories:
        t.bytes("repositories", json.dumps(repositories, separators=(",", ":")).encode())
    t.close()


def write_oci_archive(images: list[SaveImage], out: BinaryIO) -> None:
    """OCI image layout: stored blobs as they are (compressed or not), names as annotations."""
    t = _TarOut(out)
    t.dir("blobs/")
    t.dir("blobs/sha256/")
    index_manifests = []
    for img in images:
        for l in img.layers:
            if l.open_blob is None:
                continue
            with l.open_blob() as f:
                t.stream("blobs/sha256/" + _digest.hex_of(l.blob_digest), f, l.blob_size)
        t.bytes("blobs/sha256/" + _digest.hex_of(img.config_digest), img.config_bytes)
        t.bytes("blobs/sha256/" + _digest.hex_of(img.manifest_digest), img.manifest_bytes)
        for n in img.names or [""]:
            d = {"mediaType": oci.Manifest.from_bytes(img.manifest_bytes).media_type, "digest": img.manifest_digest,
                 "size": len(img.manifest_bytes)}
            if n:
                d["annotations"] = {oci.ANNOTATION_CONTAINERD_NAME: n, oci.ANNOTATION_REF_NAME: _ref.split_tag(n)[2]}
            index_manifests.append(d)
    t.bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    t.bytes("index.json", oci.dumps({"schemaVersion": 2, "mediaType": oci.OCI_INDEX, "manifests": index_manifests}))
    t.close()
