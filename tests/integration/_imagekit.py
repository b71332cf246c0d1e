"""Helpers for the image tests: run the CLI, craft layer tars and Docker archives, mount snapshots."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
PALLET = str(VENV_BIN / "pallet")


def pallet(dirs, *args, input=None, check=True, root=None):
    cmd = [PALLET, "--root", str(root or dirs["root"]), "--runroot", str(dirs["runroot"]), *map(str, args)]
    r = subprocess.run(cmd, input=input, capture_output=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} failed ({r.returncode}): {r.stderr.decode()}")
    r.out = r.stdout.decode()
    r.err = r.stderr.decode()
    return r


def layer_tar(members) -> bytes:
    """members: dicts with name, type (f d l h c b p), data, link, mode, uid, gid, mtime, xattrs, dev."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for m in members:
            ti = tarfile.TarInfo(m["name"])
            typ = m.get("type", "f")
            data = m.get("data", b"")
            ti.type = {"f": tarfile.REGTYPE, "d": tarfile.DIRTYPE, "l": tarfile.SYMTYPE, "h": tarfile.LNKTYPE,
                       "c": tarfile.CHRTYPE, "b": tarfile.BLKTYPE, "p": tarfile.FIFOTYPE}[typ]
            ti.mode = m.get("mode", 0o755 if typ == "d" else 0o644)
            ti.uid, ti.gid = m.get("uid", 0), m.get("gid", 0)
            ti.mtime = m.get("mtime", 1_600_000_000)
            if typ in "lh":
                ti.linkname = m["link"]
            if typ in "cb":
                ti.devmajor, ti.devminor = m.get("dev", (1, 3))
            if m.get("xattrs"):
                ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in m["xattrs"].items()}
            if typ == "f":
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def dir_tar(path) -> bytes:
    return subprocess.run(["tar", "-c", "-C", str(path), "--numeric-owner", "--xattrs", "."],
                          check=True, capture_output=True).stdout


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def docker_archive(path, layers: list[bytes], tags: list[str], *, cmd=("sh",), history=None, gzip_layers=False) -> str:
    """A Docker 20.10-style save archive: <id>/layer.tar, <config>.json, manifest.json (last), repositories."""
    diff_ids = [sha(l) for l in layers]
    config = {"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:05Z",
              "config": {"Cmd": list(cmd), "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": history or [{"created": "2024-01-02T03:04:05Z", "created_by": f"/bin/sh -c #(nop) layer {i}"}
                                     for i in range(len(layers))]}
    cfg = json.dumps(config).encode()
    cfg_name = sha(cfg)[7:] + ".json"
    with tarfile.open(path, "w") as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
        paths = []
        for i, l in enumerate(layers):
            lid = hashlib.sha256(f"v1-{i}-{diff_ids[i]}".encode()).hexdigest()
            data = l
            if gzip_layers:
                import gzip
                data = gzip.compress(l)
            add(f"{lid}/VERSION", b"1.0")
            add(f"{lid}/json", json.dumps({"id": lid}).encode())
            add(f"{lid}/layer.tar", data)
            paths.append(f"{lid}/layer.tar")
        add(cfg_name, cfg)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": tags, "Layers": paths}]).encode())
        if tags:
            repo, _, tag = tags[0].rpartition(":")
            add("repositories", json.dumps({repo: {tag: paths[-1].split("/")[0]}}).encode())
    return sha(cfg)


class Mounted:
    """Prepare a snapshot of an image and mount it (engine API); unmount + remove on exit."""

    def __init__(self, dirs, image, key, target):
        self.dirs, self.image, self.key, self.target = dirs, image, key, Path(target)

    def __enter__(self):
        from pallet.engine import images as E
        from pallet.engine.context import EngineContext

        self.ctx = EngineContext.open(root=str(self.dirs["root"]), runroot=str(self.dirs["runroot"]))
        E.prepare_container_rootfs(self.ctx, self.key, self.image)
        self.target.mkdir(parents=True, exist_ok=True)
        E.mount_container_rootfs(self.ctx, self.key, str(self.target))
        return self.target

    def __exit__(self, *exc):
        from pallet.engine import images as E

        subprocess.run(["umount", str(self.target)], check=False)
        E.remove_container_rootfs(self.ctx, self.key)
        self.ctx.close()


def store_is_clean(root) -> list[str]:
    """Litter a failed command must not leave: ingests, staging dirs, partial layers, temp spools."""
    root = Path(root)
    bad = []
    for d in (root / "content" / "ingest", root / "tmp"):
        if d.exists():
            bad += [str(p) for p in d.iterdir()]
    layers = root / "overlay" / "layers"
    if layers.exists():
        bad += [str(p) for p in layers.iterdir() if p.name.startswith(".")]
        for p in layers.iterdir():
            if not p.name.startswith("."):
                bad += [str(q) for q in p.iterdir() if q.name.startswith(".partial")]
    return bad
