"""What a container needs from the image store, and nothing else: find an image, give a container
its writable layer on it, drop that layer.

    resolve(ctx, ref)                                  -> ImageRow (or NotFound naming ref)
    resolve_for_container(ctx, ref)                    -> {"id", "config", "top_layer"}
    prepare_container_rootfs(ctx, key, image_id, size, top_layer) -> key (snapshot recorded)
    remove_container_rootfs(ctx, key)

Split out of pallet.engine.images so that `run` does not import the image use cases (archives,
manifests, OCI image models, hashing: ~20 ms of imports) to look up one row; pallet.engine.images
re-exports these names.
"""

from __future__ import annotations

import time

from pallet.errors import InvalidArgument, NotFound
from pallet.fastjson import loads
from pallet.metadata import db as _db
from pallet.metadata import images as T
from pallet.metadata import snapshots as S
from pallet.oci import digest as _digest
from pallet.oci import reference as _ref

_HEX = frozenset("0123456789abcdef")


def _is_hex_id(text: str) -> bool:
    """1 to 64 lowercase hex digits: an image id or its prefix."""
    return 0 < len(text) <= 64 and _HEX.issuperset(text)


def resolve(ctx, ref: str) -> T.ImageRow:
    """The image a user means by `ref` (name[:tag], full or short id, sha256:<id>, name@digest), or NotFound."""
    if not ref:
        raise InvalidArgument("image reference is empty")
    conn = ctx.db
    if ref.startswith("sha256:") and _digest.is_digest(ref):
        row = T.get(conn, ref)
        if row:
            return row
    if len(ref) == 64 and _is_hex_id(ref):
        row = T.get(conn, "sha256:" + ref)
        if row:
            return row
    try:
        r = _ref.parse(ref)
    except InvalidArgument:
        r = None
    if r is not None:
        if r.digest:
            rows = T.by_manifest(conn, r.digest)
            if rows:
                return rows[0]
        else:
            iid = T.resolve_name(conn, r.name)
            if iid:
                row = T.get(conn, iid)
                if row:
                    return row
    short = ref.removeprefix("sha256:")
    if _is_hex_id(short):
        rows = T.by_prefix(conn, short)
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise InvalidArgument(f"image id prefix {ref} is ambiguous: it matches {len(rows)} images")
    raise NotFound(f"No such image: {ref}")


def raw_config(ctx, row: T.ImageRow) -> dict:
    return loads(ctx.content.read_bytes(row.id))


def resolve_for_container(ctx, ref: str) -> dict:
    row = resolve(ctx, ref)
    cfg = raw_config(ctx, row)
    return {"id": row.id, "config": cfg.get("config") or {}, "top_layer": row.top_layer}


def prepare_container_rootfs(ctx, key: str, image_id: str, *, size: int | None = None, top_layer: str = "") -> str:
    """`image_id` is an id or any reference resolve() takes; with `top_layer` (from resolve_for_container) it
    must be the image's id, and the image is not looked up again."""
    if not top_layer:
        row = resolve(ctx, image_id)
        image_id, top_layer = row.id, row.top_layer
    if size is None and ctx.storage_opts.get("size"):
        from pallet.store.snapshotter import parse_size

        size = parse_size(ctx.storage_opts["size"])
    ctx.snapshotter.prepare(key, top_layer, size=size)
    with _db.write(ctx.db):
        S.insert(ctx.db, S.SnapshotRow(key=key, parent=top_layer, image_id=image_id, created=time.time()))
    return key


def remove_container_rootfs(ctx, key: str) -> None:
    try:
        ctx.snapshotter.remove(key)
    except NotFound:
        pass
    with _db.write(ctx.db):
        S.delete(ctx.db, key)
