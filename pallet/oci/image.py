"""OCI image-spec data: descriptors, manifests, indexes and image configs.

Frozen dataclasses with JSON in (`from_json`, naming the bad field) and out
(`to_json`, canonical compact bytes). Unknown fields of an image config are
kept in `extra` so a config we load and save again keeps its digest only when
we save the original bytes: the store always keeps original bytes, these
models are for reading and for building new configs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pallet.errors import InvalidArgument
from pallet.oci import digest as _digest

# media types (OCI and their Docker schema2 twins)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

MANIFEST_TYPES = {OCI_MANIFEST, DOCKER_MANIFEST}
INDEX_TYPES = {OCI_INDEX, DOCKER_MANIFEST_LIST}

# layer media type -> compression ("" for none)
LAYER_COMPRESSION = {
    OCI_LAYER: "", DOCKER_LAYER: "",
    OCI_LAYER_GZIP: "gzip", DOCKER_LAYER_GZIP: "gzip", DOCKER_FOREIGN_LAYER: "gzip",
    OCI_LAYER_ZSTD: "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
}

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
ANNOTATION_CONTAINERD_NAME = "io.containerd.image.name"


def dumps(obj) -> bytes:
    """Compact JSON as Docker and containerd write it (no spaces, keys as given)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _loads(data: bytes | str, what: str):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"invalid {what}: not JSON ({exc.__class__.__name__}: {exc})") from None


def _need(obj: dict, key: str, typ, what: str):
    if not isinstance(obj, dict):
        raise InvalidArgument(f"invalid {what}: expected an object")
    value = obj.get(key)
    if not isinstance(value, typ):
        raise InvalidArgument(f"invalid {what}: field {key!r} is missing or has the wrong type")
    return value


def _v2_document(data: bytes, what: str) -> dict:
    """A manifest or index: a JSON object with schemaVersion 2."""
    obj = _loads(data, what)
    if not isinstance(obj, dict) or obj.get("schemaVersion") != 2:
        raise InvalidArgument(f"invalid {what}: schemaVersion must be 2")
    return obj


def _descriptors(obj: dict, key: str, what: str, item: str) -> tuple["Descriptor", ...]:
    """The list `key` of a manifest or index, each descriptor checked and named by its position."""
    return tuple(Descriptor.from_json(d, f"{what} {item} {i}") for i, d in enumerate(_need(obj, key, list, what)))


def _annotated(out: dict, annotations: dict) -> dict:
    """`out` with an "annotations" field when there are any (the specs omit an empty one)."""
    if annotations:
        out["annotations"] = dict(annotations)
    return out


class _Document:
    """Manifest and Index: serialised as compact JSON, as written to the content store."""

    def to_json(self) -> dict:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return dumps(self.to_json())


@dataclass(frozen=True, kw_only=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: dict = field(default_factory=dict)
    platform: dict | None = None

    def __post_init__(self):
        _digest.validate(self.digest)
        if self.size < 0:
            raise InvalidArgument(f"invalid descriptor {self.digest}: negative size")

    @classmethod
    def from_json(cls, obj: dict, what: str = "descriptor") -> "Descriptor":
        media = _need(obj, "mediaType", str, what)
        dig = _need(obj, "digest", str, what)
        size = _need(obj, "size", int, what)
        try:
            return cls(media_type=media, digest=dig, size=size,
                       annotations=dict(obj.get("annotations") or {}), platform=obj.get("platform"))
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid {what}: {exc}") from None

    def to_json(self) -> dict:
        out = _annotated({"mediaType": self.media_type, "digest": self.digest, "size": self.size}, self.annotations)
        if self.platform:
            out["platform"] = dict(self.platform)
        return out


@dataclass(frozen=True, kw_only=True)
class Manifest(_Document):
    config: Descriptor
    layers: tuple[Descriptor, ...]
    media_type: str = OCI_MANIFEST
    annotations: dict = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Manifest":
        obj = _v2_document(data, "image manifest")
        media = obj.get("mediaType") or OCI_MANIFEST
        if media not in MANIFEST_TYPES:
            raise InvalidArgument(f"invalid image manifest: unsupported mediaType {media!r}")
        config = Descriptor.from_json(_need(obj, "config", dict, "image manifest"), "image manifest config")
        layers = _descriptors(obj, "layers", "image manifest", "layer")
        return cls(config=config, layers=layers, media_type=media, annotations=dict(obj.get("annotations") or {}))

    def to_json(self) -> dict:
        return _annotated({"schemaVersion": 2, "mediaType": self.media_type, "config": self.config.to_json(),
                           "layers": [l.to_json() for l in self.layers]}, self.annotations)


@dataclass(frozen=True, kw_only=True)
class Index(_Document):
    manifests: tuple[Descriptor, ...]
    media_type: str = OCI_INDEX
    annotations: dict = field(default_factory=dict)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Index":
        obj = _v2_document(data, "image index")
        manifests = _descriptors(obj, "manifests", "image index", "manifest")
        return cls(manifests=manifests, media_type=obj.get("mediaType") or OCI_INDEX,
                   annotations=dict(obj.get("annotations") or {}))

    def to_json(self) -> dict:
        return _annotated({"schemaVersion": 2, "mediaType": self.media_type,
                           "manifests": [m.to_json() for m in self.manifests]}, self.annotations)


@dataclass(frozen=True, kw_only=True)
class History:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False

    @classmethod
    def from_json(cls, obj: dict) -> "History":
        return cls(created=obj.get("created") or "", created_by=obj.get("created_by") or "",
                   author=obj.get("author") or "", comment=obj.get("comment") or "",
                   empty_layer=bool(obj.get("empty_layer")))

    def to_json(self) -> dict:
        out = {}
        for key in ("created", "created_by", "author", "comment"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.empty_layer:
            out["empty_layer"] = True
        return out


# fields of the config's "config" object that `--change` may set
RUN_CONFIG_FIELDS = ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
                     "Labels", "StopSignal", "OnBuild", "Healthcheck")


@dataclass(frozen=True, kw_only=True)
class ImageConfig:
    architecture: str
    os: str
    diff_ids: tuple[str, ...]
    config: dict = field(default_factory=dict)
    history: tuple[History, ...] = ()
    created: str = ""
    author: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        for d in self.diff_ids:
            _digest.validate(d)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ImageConfig":
        obj = _loads(data, "image config")
        if not isinstance(obj, dict):
            raise InvalidArgument("invalid image config: expected an object")
        rootfs = _need(obj, "rootfs", dict, "image config")
        if rootfs.get("type") != "layers":
            raise InvalidArgument("invalid image config: rootfs.type must be 'layers'")
        diff_ids = _need(rootfs, "diff_ids", list, "image config rootfs")
        try:
            return cls(
                architecture=obj.get("architecture") or "", os=obj.get("os") or "",
                diff_ids=tuple(diff_ids), config=dict(obj.get("config") or {}),
                history=tuple(History.from_json(h) for h in obj.get("history") or () if isinstance(h, dict)),
                created=obj.get("created") or "", author=obj.get("author") or "",
                extra={k: v for k, v in obj.items()
                       if k not in ("architecture", "os", "rootfs", "config", "history", "created", "author")},
            )
        except InvalidArgument as exc:
            raise InvalidArgument(f"invalid image config: {exc}") from None

    def to_json(self) -> dict:
        out: dict = {}
        if self.architecture:
            out["architecture"] = self.architecture
        if self.author:
            out["author"] = self.author
        out["config"] = dict(self.config)
        if self.created:
            out["created"] = self.created
        out["history"] = [h.to_json() for h in self.history]
        out["os"] = self.os
        out["rootfs"] = {"type": "layers", "diff_ids": list(self.diff_ids)}
        out.update(self.extra)
        return out

    def to_bytes(self) -> bytes:
        return dumps(self.to_json())
