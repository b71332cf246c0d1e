"""A container's root filesystem: from an image through the overlay snapshotter, or a --rootfs dir.

    prepare(env, cid, image)  -> snapshot key (writable layer on the image's top layer)
    mount(env, row)           -> merged dir, mounted at containers/<id>/rootfs
    unmount(env, row)         -> idempotent
    remove(env, row)          -> the snapshot and its upper dir

Everything image-specific goes through the images helper's API, imported
lazily; until it exists an image reference is "not found".
"""

from __future__ import annotations

import os
from pallet.values import frozen
from pallet.errors import NotFound, PalletError


@frozen
class ImageInfo:
    ref: str
    id: str
    config: dict = {}  # the OCI image config's "config" object
    top_layer: str = ""


def merged_dir(env, cid: str) -> str:
    return os.path.join(env.container_dir(cid), "rootfs")


def _images(env):
    # the light lookup module, not pallet.engine.images: `run` must not pay for the image use cases' imports
    try:
        from pallet.engine import image_lookup
    except ImportError:
        return None
    return image_lookup


def resolve_image(env, ref: str) -> ImageInfo:
    images = _images(env)
    if images is None or not hasattr(images, "resolve_for_container"):
        raise NotFound(f"image {ref} not found: import or load it first")
    try:
        info = images.resolve_for_container(env.images, ref)
    except NotFound:
        raise NotFound(f"image {ref} not found: import or load it first") from None
    return ImageInfo(ref=ref, id=info["id"], config=info.get("config") or {}, top_layer=info.get("top_layer", ""))


def prepare(env, cid: str, image: ImageInfo, size: int | None = None) -> str:
    """The container's writable snapshot; `size` (--storage-opt size=) limits it, else daemon.json's storage-opts."""
    images = _images(env)
    return images.prepare_container_rootfs(env.images, cid, image.id, size=size, top_layer=image.top_layer)


def _is_mountpoint(path: str) -> bool:
    try:
        return os.path.ismount(path)
    except OSError:
        return False


def mount(env, row, *, volatile: bool = False) -> str:
    """Mount the writable layer; `volatile` (for --rm containers) skips overlay's sync of the upper fs on umount,
    which costs ~150 ms here, since the layer is thrown away anyway."""
    if not row.snapshot:
        return row.rootfs
    target = merged_dir(env, row.id)
    os.makedirs(target, exist_ok=True)
    if _is_mountpoint(target):
        return target
    try:
        from pallet.store.snapshotter import mount_spec

        for m in env.images.snapshotter.mounts(row.snapshot):
            if volatile and m.type == "overlay":
                m = m.replace(options=(*m.options, "volatile"))
            mount_spec(m, target)
    except OSError as exc:
        raise PalletError(f"container {row.id[:12]}: cannot mount its rootfs: {exc.strerror or exc} (is overlayfs available and the lower dirs intact?)") from None
    return target


def unmount(env, row) -> None:
    if not row.snapshot:
        return
    from pallet.linux.mount import detach_all

    detach_all(merged_dir(env, row.id))


def remove(env, row) -> None:
    if not row.snapshot:
        return
    images = _images(env)
    if images is not None and hasattr(images, "remove_container_rootfs"):
        images.remove_container_rootfs(env.images, row.snapshot)
