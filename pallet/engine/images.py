"""Image use cases: import, load, save, list, inspect, history, tag, remove, prune, squash.

Each function takes an EngineContext first. Lookups accept a name[:tag], a
full or short image id, `sha256:<id>` or `name@sha256:<manifest digest>`.

For the container use cases:
    resolve_for_container(ctx, ref)          -> {"id", "config", "top_layer"}
    prepare_container_rootfs(ctx, key, image_id, size=None) -> key (snapshot recorded)
    container_rootfs_mounts(ctx, key)        -> [{"type","source","options","cwd"}]
    remove_container_rootfs(ctx, key)
    export_rootfs(ctx, key, out)             -> tar of the container's whole filesystem
    diff_layer(ctx, key, out)                -> (diff_id, size): its changes as an OCI layer (commit)
    commit_layer(ctx, key, ...)              -> new image from a container's changes
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import time
from dataclasses import dataclass, field

from pallet.engine.filters import parse_filters
from pallet.errors import Conflict, InvalidArgument, NotFound, PalletError
from pallet.metadata import db as _db
from pallet.metadata import images as T
from pallet.metadata import layers as L
from pallet.metadata import snapshots as S
from pallet.oci import digest as _digest
from pallet.oci import image as oci
from pallet.oci import reference as _ref

# The lookups a container needs live in a light module of their own (see its docstring).
from pallet.engine.image_lookup import (  # noqa: E402,F401  (re-exported)
    prepare_container_rootfs, raw_config, remove_container_rootfs, resolve, resolve_for_container,
)


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def host_arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


# ----------------------------------------------------------------------------- lookup

def config_of(ctx, row: T.ImageRow) -> oci.ImageConfig:
    return oci.ImageConfig.from_bytes(ctx.content.read_bytes(row.id))


# ----------------------------------------------------------------------------- recording

def _layer_present(ctx, chain_id: str) -> bool:
    row = L.get(ctx.db, chain_id)
    if not row or not ctx.snapshotter.has_layer(chain_id):
        return False
    return ctx.snapshotter.has_split(chain_id) if row.split else ctx.content.exists(row.blob_digest)


def _record_layer(ctx, chain_id, parent, applied, media_type, *, split: bool = False) -> None:
    with _db.write(ctx.db):
        L.delete(ctx.db, chain_id)
        L.insert(ctx.db, L.LayerRow(chain_id=chain_id, diff_id=applied.diff_id, parent=parent,
                                    blob_digest=applied.blob_digest, blob_size=applied.blob_size,
                                    media_type=media_type, size=applied.size, created=time.time(),
                                    split=int(split)))


def _unpack_layer(ctx, chain_id, parent, src, *, what, size=None, expected_diff_id="", expected_blob="", reopen=None):
    """Unpack one layer and record it. Compressed input is kept as a blob; uncompressed input is
    not stored twice (the tar-split record rebuilds it) unless the tar can't be rebuilt from its
    files (duplicate entries), in which case the blob is read again with `reopen()`.
    Returns (chain_id, Applied)."""
    from pallet.store.snapshotter import chain_of

    with ctx.content.writer() as w:
        applied = ctx.snapshotter.add_layer(chain_id, parent, src, size=size, blob_writer=w, what=what,
                                            expected_diff_id=expected_diff_id, blob_only_if_compressed=True)
        chain_id = chain_id or chain_of(parent, applied.diff_id)
        try:
            if expected_blob and expected_blob != applied.blob_digest:
                raise InvalidArgument(f"{what}: digest mismatch: content hashes to {applied.blob_digest}, the archive says {expected_blob}")
            split = False
            if applied.blob_written:
                w.commit(applied.blob_digest, applied.blob_size)
            elif applied.split_ok:
                split = True
            elif reopen is not None:
                with reopen() as again:
                    ctx.content.ingest(again, applied.blob_digest, applied.blob_size)
            else:
                raise InvalidArgument(f"{what}: {applied.split_problem}; such a layer is kept as a blob, "
                                      "which needs a file to read again, not a stream")
            _record_layer(ctx, chain_id, parent, applied, _media_for(applied.compression), split=split)
        except BaseException:
            if not L.get(ctx.db, chain_id):
                ctx.snapshotter.remove_layer(chain_id)
            raise
    return chain_id, applied


def _media_for(compression: str) -> str:
    return {"": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}[compression]


def _build_manifest(ctx, config_bytes: bytes, chain: list[str]) -> bytes:
    layers = []
    for c in chain:
        row = L.get(ctx.db, c)
        layers.append(oci.Descriptor(media_type=row.media_type, digest=row.blob_digest, size=row.blob_size))
    man = oci.Manifest(config=oci.Descriptor(media_type=oci.OCI_CONFIG, digest=_digest.of_bytes(config_bytes),
                                             size=len(config_bytes)), layers=tuple(layers))
    return man.to_bytes()


def _record_image(ctx, config_bytes: bytes, chain: list[str], names: list[str], manifest_bytes: bytes = b"") -> tuple[str, list[str]]:
    """Store config + manifest blobs and the image rows; return (image id, names whose old image lost them)."""
    cfg = oci.ImageConfig.from_bytes(config_bytes)
    if not manifest_bytes:
        manifest_bytes = _build_manifest(ctx, config_bytes, chain)
    image_id = ctx.content.put_bytes(config_bytes)
    man_digest = ctx.content.put_bytes(manifest_bytes)
    size = sum((L.get(ctx.db, c).size for c in chain), 0)
    moved = []
    with _db.write(ctx.db):
        T.upsert(ctx.db, T.ImageRow(id=image_id, manifest_digest=man_digest, manifest_media_type=oci.OCI_MANIFEST,
                                    created=cfg.created, size=size, layers=tuple(chain), parent="", added=time.time()))
        for n in names:
            old = T.set_name(ctx.db, n, image_id, time.time())
            if old:
                moved.append(old)
    return image_id, moved


# ----------------------------------------------------------------------------- import

CHANGE_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR")


def _json_or_shell(arg: str, shell: bool = True) -> list[str]:
    arg = arg.strip()
    if arg.startswith("["):
        try:
            v = json.loads(arg)
            if isinstance(v, list) and all(isinstance(x, str) for x in v):
                return v
        except ValueError:
            pass
    import shlex

    return ["/bin/sh", "-c", arg] if shell else shlex.split(arg)


def _pairs(arg: str, what: str) -> list[tuple[str, str]]:
    import shlex

    words = shlex.split(arg)
    if len(words) >= 1 and "=" not in words[0]:  # legacy `ENV KEY value with spaces`
        key, _, val = arg.strip().partition(" ")
        return [(key, val.strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"invalid {what}: {w!r} is not KEY=VALUE")
        out.append((k, v))
    return out


def apply_changes(config: dict, changes: list[str]) -> dict:
    """Dockerfile instructions (`--change`) applied to an image's run config dict."""
    cfg = dict(config)
    for ch in changes:
        inst, _, arg = ch.strip().partition(" ")
        inst = inst.upper()
        if inst not in CHANGE_INSTRUCTIONS:
            raise InvalidArgument(f"{inst} is not a valid change command (valid: {', '.join(CHANGE_INSTRUCTIONS)})")
        if inst == "CMD":
            cfg["Cmd"] = _json_or_shell(arg)
        elif inst == "ENTRYPOINT":
            cfg["Entrypoint"] = _json_or_shell(arg)
        elif inst == "ENV":
            env = [e for e in cfg.get("Env") or []]
            for k, v in _pairs(arg, "ENV"):
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            cfg["Env"] = env
        elif inst == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            labels.update(_pairs(arg, "LABEL"))
            cfg["Labels"] = labels
        elif inst == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            for p in arg.split():
                ports[p if "/" in p else p + "/tcp"] = {}
            cfg["ExposedPorts"] = ports
        elif inst == "VOLUME":
            vols = dict(cfg.get("Volumes") or {})
            for v in (_json_or_shell(arg, shell=False)):
                vols[v] = {}
            cfg["Volumes"] = vols
        elif inst == "USER":
            cfg["User"] = arg.strip()
        elif inst == "WORKDIR":
            cfg["WorkingDir"] = arg.strip()
        elif inst == "STOPSIGNAL":
            cfg["StopSignal"] = arg.strip()
        elif inst == "ONBUILD":
            cfg["OnBuild"] = list(cfg.get("OnBuild") or []) + [arg.strip()]
    return cfg


def import_image(ctx, source: str, *, stdin=None, reference: str = "", changes: list[str] = (), message: str = "") -> str:
    """`pallet import`: a tar stream ('-'), a tar file (gz/zstd too) or a directory -> one-layer image."""
    import subprocess

    names = [_ref.parse(reference).name] if reference else []
    run_config = apply_changes({}, list(changes))
    proc = None
    if source == "-":
        src, label = stdin, "-"
    elif os.path.isdir(source):
        proc = subprocess.Popen(["tar", "-c", "-f", "-", "-C", source, "--numeric-owner", "--xattrs", "--xattrs-include=*",
                                 "--xattrs-exclude=trusted.overlay.*", "--no-acls", "--no-selinux", "."],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        src, label = proc.stdout, source
    elif re.match(r"^[a-z]+://", source):
        raise InvalidArgument(f"importing from a URL ({source}) is not supported: download it and import the file")
    else:
        try:
            src = open(source, "rb")
        except FileNotFoundError:
            raise NotFound(f"open {source}: no such file or directory") from None
        label = source
    try:
        reopen = (lambda: open(source, "rb")) if source != "-" and proc is None else None
        with ctx.content.lease():
            chain_id, applied = _unpack_layer(ctx, None, "", src, what=f"import {label}", reopen=reopen)
            created = now_rfc3339()
            cfg = oci.ImageConfig(architecture=host_arch(), os="linux", diff_ids=(applied.diff_id,), config=run_config,
                                  created=created,
                                  history=(oci.History(created=created, created_by="pallet import",
                                                       comment=message or f"Imported from {label}"),))
            image_id, _ = _record_image(ctx, cfg.to_bytes(), [chain_id], names)
            return image_id
    finally:
        if proc is not None:
            proc.stdout.close()
            err = proc.stderr.read().decode(errors="replace").strip()
            if proc.wait() != 0:
                raise PalletError(f"import {source}: tar failed: {err.splitlines()[-1] if err else 'no message'}")
        elif source != "-":
            src.close()


# ----------------------------------------------------------------------------- load

@dataclass
class LoadResult:
    lines: list[str] = field(default_factory=list)  # "Loaded image: x" / "Loaded image ID: sha256:..."
    image_ids: list[str] = field(default_factory=list)


def load(ctx, src, *, quiet: bool = False) -> LoadResult:
    """`pallet load`: Docker (20.10, 25+), skopeo and OCI archives, gzip or not. All checks come first."""
    from pallet.store.archive import open_archive

    result = LoadResult()
    with ctx.content.lease():
        with open_archive(src, ctx.tmp_dir) as arc:
            images = arc.images()
            plans = [_plan_load(ctx, arc, img) for img in images]
            added_layers: list[str] = []
            try:
                for img, (cfg_bytes, cfg, chain) in zip(images, plans):
                    for i, (lref, diff_id, chain_id) in enumerate(zip(img.layers, cfg.diff_ids, chain)):
                        if chain_id in added_layers or _layer_present(ctx, chain_id):
                            continue
                        if ctx.snapshotter.has_layer(chain_id):  # unpacked but never recorded (killed load)
                            ctx.snapshotter.remove_layer(chain_id)
                        parent = chain[i - 1] if i else ""
                        what = f"layer {i + 1}/{len(chain)} ({lref.path}) of {_ref.familiar(img.names[0]) if img.names else img.where}"
                        with arc.open(lref.path) as f:
                            _unpack_layer(ctx, chain_id, parent, f, what=what, size=lref.size, expected_diff_id=diff_id,
                                          expected_blob=lref.digest, reopen=lambda p=lref.path: arc.open(p))
                        added_layers.append(chain_id)
                    man = img.manifest_bytes if img.manifest_bytes and _manifest_matches(ctx, img.manifest_bytes, chain) else b""
                    image_id, _ = _record_image(ctx, cfg_bytes, chain, img.names, man)
                    result.image_ids.append(image_id)
                    if img.names:
                        result.lines.extend(f"Loaded image: {_ref.familiar(n)}" for n in img.names)
                    else:
                        result.lines.append(f"Loaded image ID: {image_id}")
            except BaseException:
                _rollback_layers(ctx, added_layers)
                raise
    return result


def _plan_load(ctx, arc, img):
    cfg_bytes = img.config_bytes
    cfg = oci.ImageConfig.from_bytes(cfg_bytes)
    if len(cfg.diff_ids) != len(img.layers):
        raise InvalidArgument(f"invalid archive: {img.where}: {len(img.layers)} layers but the config has {len(cfg.diff_ids)} diff_ids")
    chain = _digest.chain_ids(list(cfg.diff_ids))
    missing = [d for l, d, c in zip(img.layers, cfg.diff_ids, chain) if l.path is None and not _layer_present(ctx, c)]
    if missing:
        name = _ref.familiar(img.names[0]) if img.names else img.where
        base = img.excluded_base or {}
        if base:
            raise NotFound(f"cannot load {name}: it was saved without the layers of base image {base.get('Image') or base.get('Id')} "
                           f"and these are not in the store: {', '.join(missing)}; load {base.get('Image') or 'the base image'} first")
        raise NotFound(f"cannot load {name}: the archive lacks layers that are not in the store: {', '.join(missing)}")
    return cfg_bytes, cfg, chain


def _manifest_matches(ctx, manifest_bytes: bytes, chain: list[str]) -> bool:
    try:
        man = oci.Manifest.from_bytes(manifest_bytes)
    except InvalidArgument:
        return False
    rows = [L.get(ctx.db, c) for c in chain]
    return len(man.layers) == len(rows) and all(r and r.blob_digest == d.digest for r, d in zip(rows, man.layers))


def _rollback_layers(ctx, chain_ids: list[str]) -> None:
    """Undo the layers this command added, unless an image references them by now."""
    used = {c for row in T.all_rows(ctx.db) for c in row.layers}
    for c in reversed(chain_ids):
        if c in used:
            continue
        row = L.get(ctx.db, c)
        try:
            with _db.write(ctx.db):
                L.delete(ctx.db, c)
            ctx.snapshotter.remove_layer(c)
            if row:
                ctx.content.delete(row.blob_digest)
        except Exception:
            pass  # GC removes what is left


# ----------------------------------------------------------------------------- save

def _open_uncompressed(ctx, row: L.LayerRow):
    """(file, size) of the uncompressed layer tar: rebuilt from the split record, the blob itself,
    or a decompressed temp copy."""
    if row.split or (not ctx.content.exists(row.blob_digest) and ctx.snapshotter.has_split(row.chain_id)):
        return ctx.snapshotter.open_split(row.chain_id, row.diff_id, row.size), row.size
    if row.diff_id == row.blob_digest:
        return ctx.content.open(row.blob_digest), row.blob_size
    import tempfile

    from pallet.store.layer import decompressor

    os.makedirs(ctx.tmp_dir, exist_ok=True)
    tmp = tempfile.TemporaryFile(dir=ctx.tmp_dir)
    comp = {v: k for k, v in {"": oci.OCI_LAYER, "gzip": oci.OCI_LAYER_GZIP, "zstd": oci.OCI_LAYER_ZSTD}.items()}.get(row.media_type, "gzip")
    dec = decompressor(comp)
    with ctx.content.open(row.blob_digest) as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            tmp.write(dec.decompress(chunk))
        tmp.write(dec.flush())
    size = tmp.tell()
    tmp.seek(0)
    return tmp, size


def save(ctx, refs: list[str], out, *, fmt: str = "docker", exclude_base: str = "") -> None:
    """`pallet save`: Docker archive (default; Docker 25+ layout) or `oci-archive`."""
    from pallet.store import archive as A

    if fmt not in ("docker", "docker-archive", "oci", "oci-archive"):
        raise InvalidArgument(f"unknown save format {fmt!r}: expected docker-archive or oci-archive")
    if not refs:
        raise InvalidArgument("save needs at least one image")
    exclude: set[str] = set()
    base_info = {}
    if exclude_base:
        base = resolve(ctx, exclude_base)
        exclude = set(base.layers)
        base_info = {"Image": _ref.familiar(T.names_of(ctx.db, base.id)[0]) if T.names_of(ctx.db, base.id) else exclude_base,
                     "Id": base.id}
    wanted: dict[str, list[str]] = {}
    order: list[str] = []
    for r in refs:
        row = resolve(ctx, r)
        if row.id not in wanted:
            wanted[row.id] = []
            order.append(row.id)
        try:
            p = _ref.parse(r)
            if not p.digest and T.resolve_name(ctx.db, p.name) == row.id:
                wanted[row.id].append(p.name)
        except InvalidArgument:
            pass
    images = []
    for iid in order:
        row = T.get(ctx.db, iid)
        names = wanted[iid] or ([] if any(w for w in wanted.values()) else T.names_of(ctx.db, iid))
        layers = []
        excluded_diffs = []
        for c in row.layers:
            lr = L.get(ctx.db, c)
            if lr is None:
                raise NotFound(f"image {iid[7:19]}: layer {c} is missing from the store")
            skip = c in exclude
            if skip:
                excluded_diffs.append(lr.diff_id)
            layers.append(A.SaveLayer(
                diff_id=lr.diff_id,
                open_uncompressed=None if skip else (lambda lr=lr: _open_uncompressed(ctx, lr)),
                blob_digest=lr.blob_digest, blob_size=lr.blob_size, blob_media_type=lr.media_type,
                open_blob=None if skip else (lambda lr=lr: _open_uncompressed(ctx, lr)[0] if lr.split else ctx.content.open(lr.blob_digest))))
        man = ctx.content.read_bytes(row.manifest_digest)
        eb = dict(base_info, Layers=excluded_diffs) if excluded_diffs else {}
        images.append(A.SaveImage(config_bytes=ctx.content.read_bytes(iid), config_digest=iid, names=names,
                                  layers=layers, manifest_bytes=man, manifest_digest=row.manifest_digest,
                                  excluded_base=eb))
    if fmt in ("oci", "oci-archive"):
        A.write_oci_archive(images, out)
    else:
        A.write_docker_archive(images, out)


# ----------------------------------------------------------------------------- list / inspect / history

@dataclass(frozen=True)
class ImageSummary:
    id: str
    repository: str
    tag: str
    digest: str
    created: str        # RFC 3339
    created_ts: float
    size: int
    names: tuple[str, ...]
    labels: dict
    dangling: bool


def _ts(created: str) -> float:
    if not created:
        return 0.0
    s = created.rstrip("Z")
    frac = ""
    if "." in s:
        s, frac = s.split(".", 1)
        frac = re.match(r"\d*", frac).group(0)
    tz = _dt.timezone.utc
    m = re.search(r"([+-]\d\d:\d\d)$", s)
    if m:
        s = s[:m.start()]
    try:
        t = _dt.datetime.strptime(s[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=tz).timestamp()
    except ValueError:
        return 0.0
    return t + (float("0." + frac) if frac else 0.0)


def list_images(ctx, *, all: bool = False, filters: list[str] = ()) -> list[ImageSummary]:
    """One summary per (image, name); an image without names appears once as <none>:<none>."""
    names = T.all_names(ctx.db)
    rows = T.all_rows(ctx.db)
    flt = parse_filters(filters, FILTER_KEYS)
    out = []
    for row in rows:
        labels = {}
        if "label" in flt:
            labels = (raw_config(ctx, row).get("config") or {}).get("Labels") or {}
        ns = names.get(row.id, [])
        base = dict(id=row.id, digest="", created=row.created, created_ts=_ts(row.created), size=row.size,
                    names=tuple(ns), labels=labels, dangling=not ns)
        entries = [ImageSummary(repository=_ref.familiar_repository(_ref.split_tag(n)[0]), tag=_ref.split_tag(n)[2], **base)
                   for n in ns] or [ImageSummary(repository="<none>", tag="<none>", **base)]
        out.extend(e for e in entries if _match(ctx, e, flt))
    out.sort(key=lambda e: (-e.created_ts, e.repository, e.tag))
    return out


FILTER_KEYS = ("dangling", "label", "before", "since", "reference")


def _match(ctx, e: ImageSummary, flt: dict) -> bool:
    import fnmatch

    for v in flt.get("dangling", ()):
        want = v.lower() in ("true", "1")
        if e.dangling != want:
            return False
    for v in flt.get("label", ()):
        k, eq, val = v.partition("=")
        if k not in e.labels or (eq and e.labels[k] != val):
            return False
    for key, cmp in (("before", lambda a, b: a < b), ("since", lambda a, b: a > b)):
        for v in flt.get(key, ()):
            other = resolve(ctx, v)
            if not cmp(e.created_ts, _ts(other.created)):
                return False
    refs = flt.get("reference", ())
    if refs:
        shown = f"{e.repository}:{e.tag}"
        if not any(fnmatch.fnmatchcase(shown, p) or fnmatch.fnmatchcase(e.repository, p) for p in refs):
            return False
    return True


def inspect(ctx, ref: str) -> dict:
    """Docker's `image inspect` object."""
    row = resolve(ctx, ref)
    cfg = raw_config(ctx, row)
    names = T.names_of(ctx.db, row.id)
    diff_ids = (cfg.get("rootfs") or {}).get("diff_ids") or []
    return {
        "Id": row.id,
        "RepoTags": [_ref.familiar(n) for n in names],
        "RepoDigests": [],  # only images pulled from a registry have one (registry/ comes later)
        "Parent": row.parent,
        "Comment": next((h.get("comment", "") for h in reversed(cfg.get("history") or [])), ""),
        "Created": cfg.get("created", ""),
        "DockerVersion": "",
        "Author": cfg.get("author", ""),
        "Config": cfg.get("config") or {},
        "Architecture": cfg.get("architecture", ""),
        "Variant": cfg.get("variant", ""),
        "Os": cfg.get("os", ""),
        "Size": row.size,
        "GraphDriver": {"Name": ctx.snapshotter.driver,
                        "Data": {"LowerDir": ":".join(ctx.snapshotter.layer_dirs(row.top_layer)[1:]) if row.top_layer else "",
                                 "UpperDir": ctx.snapshotter.diff_dir(row.top_layer) if row.top_layer else ""}},
        "RootFS": {"Type": "layers", "Layers": diff_ids},
        "Metadata": {"LastTagTime": ""},
        "Descriptor": {"mediaType": oci.OCI_MANIFEST, "digest": row.manifest_digest,
                       "size": ctx.content.size(row.manifest_digest)},
    }


def history(ctx, ref: str) -> list[dict]:
    """Newest first: {Id, Created, CreatedBy, Size, Comment, Tags}."""
    row = resolve(ctx, ref)
    cfg = raw_config(ctx, row)
    hist = cfg.get("history") or []
    sizes = [L.get(ctx.db, c).size for c in row.layers]
    out = []
    li = 0
    for h in hist:
        empty = bool(h.get("empty_layer"))
        size = 0
        if not empty and li < len(sizes):
            size = sizes[li]
            li += 1
        out.append({"Id": "<missing>", "Created": h.get("created", ""), "CreatedTs": _ts(h.get("created", "")),
                    "CreatedBy": h.get("created_by", ""), "Size": size, "Comment": h.get("comment", ""), "Tags": []})
    if not out:
        out = [{"Id": "<missing>", "Created": cfg.get("created", ""), "CreatedTs": _ts(cfg.get("created", "")),
                "CreatedBy": "", "Size": s, "Comment": "", "Tags": []} for s in sizes]
    out.reverse()
    out[0]["Id"] = row.id
    out[0]["Tags"] = [_ref.familiar(n) for n in T.names_of(ctx.db, row.id)]
    return out


# ----------------------------------------------------------------------------- tag / remove / prune

def tag(ctx, source: str, target: str) -> None:
    row = resolve(ctx, source)
    name = _ref.parse(target)
    if name.digest:
        raise InvalidArgument(f"refusing to create a tag with a digest reference: {target}")
    with _db.write(ctx.db):
        T.set_name(ctx.db, name.name, row.id, time.time())


def image_users(ctx, image_id: str) -> list[str]:
    """Containers (or snapshots) using the image: the hook first, else the snapshots table."""
    if ctx.image_users is not None:
        return list(ctx.image_users(ctx, image_id))
    return [r.key for r in S.all_rows(ctx.db) if r.image_id == image_id]


def remove(ctx, ref: str, *, force: bool = False, prune_parents: bool = True) -> list[tuple[str, str]]:
    """`rmi`: untag, and delete the image when no name is left. Returns [("Untagged"|"Deleted", what)]."""
    row = resolve(ctx, ref)
    names = T.names_of(ctx.db, row.id)
    by_name = None
    try:
        p = _ref.parse(ref)
        if not p.digest and p.name in names:
            by_name = p.name
    except InvalidArgument:
        pass
    out: list[tuple[str, str]] = []
    if by_name and len(names) > 1:
        with _db.write(ctx.db):
            T.remove_name(ctx.db, by_name)
        return [("Untagged", _ref.familiar(by_name))]
    if not by_name and len(names) > 1 and not force:
        raise Conflict(f"conflict: unable to delete {row.id[7:19]} (must be forced) - image is referenced in multiple repositories")
    users = image_users(ctx, row.id)
    if users:
        if not force:
            raise Conflict(f"conflict: unable to remove image {ref} ({row.id[7:19]}): container {users[0][:12]} is using it")
        # forced: untag only, like Docker; the image stays for its containers
        with _db.write(ctx.db):
            for n in names:
                T.remove_name(ctx.db, n)
        return [("Untagged", _ref.familiar(n)) for n in names]
    with _db.write(ctx.db):
        for n in names:
            T.remove_name(ctx.db, n)
            out.append(("Untagged", _ref.familiar(n)))
        T.delete(ctx.db, row.id)
    out.append(("Deleted", row.id))
    for c in gc(ctx).layers_removed:
        out.append(("Deleted", c))
    return out


@dataclass
class GCResult:
    blobs_removed: list[str] = field(default_factory=list)
    layers_removed: list[str] = field(default_factory=list)
    bytes_freed: int = 0


def gc(ctx) -> GCResult:
    """Mark (images, snapshots, in-flight writers via the content lock) and sweep layers and blobs."""
    from pallet.store.snapshotter import dir_usage

    res = GCResult()
    with ctx.content.exclusive():
        rows = T.all_rows(ctx.db)
        keep_layers: set[str] = set()
        keep_blobs: set[str] = set()
        for r in rows:
            keep_layers.update(r.layers)
            keep_blobs.add(r.id)
            keep_blobs.add(r.manifest_digest)
            try:
                man = oci.Manifest.from_bytes(ctx.content.read_bytes(r.manifest_digest))
                keep_blobs.update(l.digest for l in man.layers)
            except (NotFound, InvalidArgument):
                pass
        for s in S.all_rows(ctx.db):
            c = s.parent
            while c:
                keep_layers.add(c)
                lr = L.get(ctx.db, c)
                c = lr.parent if lr else ""
        for snap in ctx.snapshotter.snapshots():
            try:
                c = ctx.snapshotter.parent_of(snap)
                keep_layers.update(ctx.snapshotter.chain(c) if c else [])
            except PalletError:
                pass
        layer_rows = {l.chain_id: l for l in L.all_rows(ctx.db)}
        for c, lr in layer_rows.items():
            if c in keep_layers:
                keep_blobs.add(lr.blob_digest)
        doomed = [c for c in set(layer_rows) | set(ctx.snapshotter.layers()) if c not in keep_layers]
        for c in doomed:
            if ctx.snapshotter.has_layer(c):
                res.bytes_freed += dir_usage(ctx.snapshotter.layer_path(c)).size
            with _db.write(ctx.db):
                L.delete(ctx.db, c)
            ctx.snapshotter.remove_layer(c)
            res.layers_removed.append(c)
        deleted, freed = ctx.content.sweep(keep_blobs)
        res.blobs_removed, res.bytes_freed = deleted, res.bytes_freed + freed
        ctx.content.clean_stale_ingests()
        ctx.snapshotter.clean_stale()
        _clean_tmp(ctx)
    return res


def _clean_tmp(ctx) -> None:
    d = ctx.tmp_dir
    if not os.path.isdir(d):
        return
    for name in os.listdir(d):
        pid = name.split("-", 1)[0]
        if pid.isdigit():
            try:
                os.kill(int(pid), 0)
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
        try:
            os.unlink(os.path.join(d, name))
        except OSError:
            pass


def prune(ctx, *, all: bool = False, filters: list[str] = ()) -> tuple[list[tuple[str, str]], int]:
    """`image prune`: dangling images (all unused ones with `all`), then GC. Returns (actions, bytes)."""
    out = []
    flt = parse_filters(filters, FILTER_KEYS)
    users = {r.image_id for r in S.all_rows(ctx.db)}
    names = T.all_names(ctx.db)
    for row in T.all_rows(ctx.db):
        if row.id in users or image_users(ctx, row.id):
            continue
        ns = names.get(row.id, [])
        if ns and not all:
            continue
        if "label" in flt:
            labels = (raw_config(ctx, row).get("config") or {}).get("Labels") or {}
            if [v for v in flt["label"] if not _label_ok(labels, v)]:
                continue
        with _db.write(ctx.db):
            for n in ns:
                T.remove_name(ctx.db, n)
                out.append(("untagged", _ref.familiar(n)))
            T.delete(ctx.db, row.id)
        out.append(("deleted", row.id))
    res = gc(ctx)
    out.extend(("deleted", c) for c in res.layers_removed)
    return out, res.bytes_freed


def _label_ok(labels, v):
    k, eq, val = v.partition("=")
    return k in labels and (not eq or labels[k] == val)


# ----------------------------------------------------------------------------- squash

def squash(ctx, ref: str, *, from_: str = "", tag_: str = "", message: str = "") -> str:
    """Merge the image's layers (all, the top N, or from LAYER up) into one; keep config and history."""
    from pallet.store.layer import write_tar

    row = resolve(ctx, ref)
    cfg = raw_config(ctx, row)
    chain = list(row.layers)
    if not chain:
        raise InvalidArgument(f"image {ref} has no layers to squash")
    diff_ids = [L.get(ctx.db, c).diff_id for c in chain]
    k = 0  # number of base layers kept
    if from_:
        if from_.isdigit():
            n = int(from_)
            if not 1 <= n <= len(chain):
                raise InvalidArgument(f"--from {n}: the image has {len(chain)} layers")
            k = len(chain) - n
        else:
            want = from_ if from_.startswith("sha256:") else "sha256:" + from_
            hits = [i for i, (c, d) in enumerate(zip(chain, diff_ids)) if d.startswith(want) or c.startswith(want)]
            if len(hits) != 1:
                raise NotFound(f"--from {from_}: no single layer of {ref} matches")
            k = hits[0]
    top = chain[k:]
    if len(top) == 1 and k == len(chain) - 1 and not from_ and len(chain) == 1:
        pass  # one layer: squashing changes nothing but is allowed
    parent = chain[k - 1] if k else ""
    sources = [ctx.snapshotter.diff_dir(c) for c in reversed(top)]
    with ctx.content.lease():
        with ctx.content.writer() as w:
            diff_id, size = write_tar(sources, w, keep_whiteouts=bool(k))
            blob = w.commit(diff_id, size)
        new_chain = parent and _digest.of_bytes(f"{parent} {diff_id}".encode()) or diff_id
        if not _layer_present(ctx, new_chain):
            if ctx.snapshotter.has_layer(new_chain):
                ctx.snapshotter.remove_layer(new_chain)
            with ctx.content.open(blob) as f:
                applied = ctx.snapshotter.add_layer(new_chain, parent, f, what="squashed layer", expected_diff_id=diff_id,
                                                    split=False)
            _record_layer(ctx, new_chain, parent, applied, oci.OCI_LAYER)
        # history: entries of squashed layers become empty; one new entry carries the merged layer
        hist = cfg.get("history") or []
        new_hist, li = [], 0
        for h in hist:
            h = dict(h)
            if not h.get("empty_layer"):
                if li >= k:
                    h["empty_layer"] = True
                li += 1
            new_hist.append(h)
        created = now_rfc3339()
        new_hist.append({"created": created, "created_by": "pallet image squash",
                         "comment": message or f"merged {len(top)} layers: {', '.join(d[7:19] for d in diff_ids[k:])}"})
        if li != len(chain):  # history did not describe the layers: rebuild a minimal one
            new_hist = [{"created": cfg.get("created", created), "created_by": ""} for _ in range(k)] + [new_hist[-1]]
        cfg = dict(cfg)
        cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids[:k] + [diff_id]}
        cfg["history"] = new_hist
        cfg["created"] = created
        names = [_ref.parse(tag_).name] if tag_ else []
        image_id, _ = _record_image(ctx, oci.dumps(cfg), chain[:k] + [new_chain], names)
    return image_id


# ----------------------------------------------------------------------------- for containers

def container_rootfs_mounts(ctx, key: str) -> list[dict]:
    return [m.to_dict() for m in ctx.snapshotter.mounts(key)]


def mount_container_rootfs(ctx, key: str, target: str) -> None:
    """Mount the snapshot at `target` (handles the relative-lowerdir case)."""
    from pallet.store.snapshotter import mount_spec

    for m in ctx.snapshotter.mounts(key):
        mount_spec(m, target)


def container_rootfs_usage(ctx, key: str):
    return ctx.snapshotter.usage(key)


def export_rootfs(ctx, key: str, out) -> tuple[str, int]:
    """The container's whole filesystem (upper over its image layers) as one tar, no mount needed."""
    from pallet.store.layer import write_tar

    sources = [ctx.snapshotter.upper_dir(key)] + ctx.snapshotter.layer_dirs(ctx.snapshotter.parent_of(key))
    return write_tar(sources, out, keep_whiteouts=False)


def diff_layer(ctx, key: str, out) -> tuple[str, int]:
    """The container's changes (its upper dir) as an OCI layer tar (whiteouts included)."""
    from pallet.store.layer import write_tar

    return write_tar([ctx.snapshotter.upper_dir(key)], out, keep_whiteouts=True)


def commit_container(ctx, key: str, image_id: str, *, reference: str = "", changes: list[str] = (),
                     message: str = "", author: str = "", container_config: dict | None = None) -> str:
    """A new image: the container's image plus its changes as one more layer."""
    base = resolve(ctx, image_id)
    cfg = raw_config(ctx, base)
    parent = base.top_layer
    with ctx.content.lease():
        with ctx.content.writer() as w:
            diff_id, size = diff_layer(ctx, key, w)
            w.commit(diff_id, size)
        chain_id = parent and _digest.of_bytes(f"{parent} {diff_id}".encode()) or diff_id
        if not _layer_present(ctx, chain_id):
            if ctx.snapshotter.has_layer(chain_id):
                ctx.snapshotter.remove_layer(chain_id)
            with ctx.content.open(diff_id) as f:
                applied = ctx.snapshotter.add_layer(chain_id, parent, f, what="committed layer", expected_diff_id=diff_id,
                                                    split=False)
            _record_layer(ctx, chain_id, parent, applied, oci.OCI_LAYER)
        created = now_rfc3339()
        cfg = dict(cfg)
        cfg["config"] = apply_changes(dict(container_config or cfg.get("config") or {}), list(changes))
        cfg["rootfs"] = {"type": "layers", "diff_ids": list((cfg.get("rootfs") or {}).get("diff_ids") or []) + [diff_id]}
        cfg["history"] = list(cfg.get("history") or []) + [{"created": created, "created_by": "pallet commit",
                                                             **({"comment": message} if message else {}),
                                                             **({"author": author} if author else {})}]
        cfg["created"] = created
        if author:
            cfg["author"] = author
        names = [_ref.parse(reference).name] if reference else []
        new_id, _ = _record_image(ctx, oci.dumps(cfg), list(base.layers) + [chain_id], names)
    return new_id
