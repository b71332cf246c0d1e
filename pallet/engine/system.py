"""System use cases: info, df, prune, check (repair what a crashed command left)."""

from __future__ import annotations

import os
import platform
import shutil
import time

from pallet import __version__
from pallet.engine import containers, volumes
from pallet.engine.dbconn import write
from pallet.errors import PalletError
from pallet.metadata import containers as table
from pallet.values import frozen


def info(env) -> dict:
    from pallet.cgroups.mode import detect
    from pallet.engine.runtimes import available

    states = containers.list_states(env)
    count = {s: sum(1 for c in states if c.status == s) for s in ("running", "paused")}
    try:
        from pallet.engine import images

        n_images = len(images.list_images(env.images))
    except Exception:
        n_images = 0
    mode = detect()
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    rts = {name: {"path": path} for name, path in available(env.daemon.runtimes).items()}
    rts["pallet"] = {"path": "(in process: pallet.runtime library)"}
    return {
        "ID": "",
        "Containers": len(states),
        "ContainersRunning": count["running"],
        "ContainersPaused": count["paused"],
        "ContainersStopped": len(states) - count["running"] - count["paused"],
        "Images": n_images,
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", _fs_type(env.root)], ["Supports d_type", "true"]],
        "MemoryLimit": True,
        "SwapLimit": os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") or mode == "v2",
        "CpuCfsPeriod": True,
        "CpuCfsQuota": True,
        "CPUShares": True,
        "CPUSet": True,
        "PidsLimit": True,
        "OomKillDisable": mode != "v2",
        "Debug": False,
        "SystemTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "LoggingDriver": env.daemon.log_driver,
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": "2" if mode == "v2" else "1",
        "CgroupMode": mode,
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count(),
        "MemTotal": mem,
        "DockerRootDir": env.root,
        "RunRoot": env.runroot,
        "Name": platform.node(),
        "ServerVersion": __version__,
        "Runtimes": rts,
        "DefaultRuntime": env.runtime_name(),
        "DefaultIpcMode": env.daemon.default_ipc_mode,
        "LiveRestoreEnabled": True,
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
        "RegistryConfig": {"Mirrors": list(env.daemon.registry_mirrors)},
        "HttpProxy": env.daemon.proxies.get("http-proxy", ""),
        "HttpsProxy": env.daemon.proxies.get("https-proxy", ""),
        "NoProxy": env.daemon.proxies.get("no-proxy", ""),
        "DefaultUlimits": {u.name: {"Name": u.name, "Soft": u.soft, "Hard": u.hard} for u in env.daemon.default_ulimits},
    }


def _fs_type(path: str) -> str:
    best, fstype = "", "unknown"
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        for line in f:
            parts = line.split()
            mp = parts[1]
            if (real == mp or real.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                best, fstype = mp, parts[2]
    return fstype


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def df(env) -> dict:
    from pallet.engine import usage
    from pallet.engine.inspect import command_text, status_text

    states = containers.list_states(env)
    ctr_rows = []
    for st in states:
        rw, _virt = usage.container_size(env, st)
        ctr_rows.append({"ID": st.id, "Name": st.name, "Image": st.config.image, "Size": rw,
                         "Active": st.status in ("running", "paused"), "Status": st.status,
                         "Command": command_text(st), "Created": st.row.created, "StatusText": status_text(st),
                         "LocalVolumes": sum(1 for m in st.config.mounts if m.type == "volume")})
    img_rows = []
    try:
        from pallet.engine import images

        used = {st.config.image_id for st in states}
        seen: set[str] = set()
        for s in images.list_images(env.images):
            if s.id in seen:
                continue  # one row per image, not per name (Docker counts images)
            seen.add(s.id)
            shared = _shared_size(env, s.id)
            img_rows.append({"ID": s.id, "Repository": s.repository, "Tag": s.tag, "Size": s.size,
                             "Active": s.id in used, "Containers": sum(1 for st in states if st.config.image_id == s.id),
                             "Created": s.created_ts, "SharedSize": shared, "UniqueSize": max(s.size - shared, 0)})
    except Exception:
        pass
    vol_rows = []
    for v in volumes.list_all(env):
        users = volumes.users(env, v.name)
        vol_rows.append({"Name": v.name, "Size": volumes.dir_size(os.path.join(env.volumes_dir(), v.name)),
                         "Active": bool(users), "Links": len(users)})
    return {"Images": img_rows, "Containers": ctr_rows, "Volumes": vol_rows}


def _shared_size(env, image_id: str) -> int:
    """Docker's SHARED SIZE: the bytes of this image's layers that another image uses too."""
    from pallet.metadata import images as T
    from pallet.metadata import layers as L

    rows = T.all_rows(env.db)
    mine = next((r for r in rows if r.id == image_id), None)
    if mine is None:
        return 0
    others = {c for r in rows if r.id != image_id for c in r.layers}
    total = 0
    for c in mine.layers:
        lr = L.get(env.db, c) if c in others else None
        total += lr.size if lr else 0
    return total


def prune(env, *, all_images: bool = False, with_volumes: bool = False) -> dict:
    from pallet.engine import filesystem

    removed, freed = filesystem.prune(env)  # stopped containers, with their writable layers' size
    vols: list[str] = []
    if with_volumes:
        vols, vfreed = volumes.prune(env, all_volumes=all_images)
        freed += vfreed
    imgs = []
    try:
        from pallet.engine import images

        imgs, ifreed = images.prune(env.images, all=all_images)
        freed += ifreed
    except ImportError:
        pass
    return {"containers": removed, "volumes": vols, "images": imgs, "freed": freed}


@frozen
class Finding:
    """One thing `check` found; `repaired` tells whether it was fixed in this call."""

    text: str
    repaired: bool = False
    lossy: bool = False  # fixing it removes a container: only with --force


def check(env, *, repair: bool = False, force: bool = False) -> list[Finding]:
    """What a crash can leave (podman system check): report it; with `repair` fix it, except removing
    containers whose storage is damaged, which needs `force` (as podman's --repair and --force)."""
    found: list[Finding] = []
    repair = repair or force

    def note(text: str, fix, *, lossy: bool = False) -> None:
        do = force if lossy else repair
        if do:
            fix()
        found.append(Finding(text=text, repaired=do, lossy=lossy))

    rows = {r.id: r for r in table.all_rows(env.db)}
    # 1. records: half-removed containers, running ones whose process and monitor are gone
    for cid, row in rows.items():
        if row.status == "removing":
            note(f"container {cid[:12]}: removal was interrupted",
                 lambda cid=cid: containers.remove(env, cid, force=True, resolved=True))
        elif row.status in containers.ACTIVE:
            before = row.status
            containers.sync_one(env, cid, row)
            after = table.get(env.db, cid)
            if after is not None and after.status != before:
                from pallet.engine import lifecycle

                note(f"container {cid[:12]}: was {before}, its process is gone: marked exited",
                     lambda cid=cid: lifecycle.cleanup(env, cid))
    rows = {r.id: r for r in table.all_rows(env.db)}
    # What has no record may be a create in progress (it holds the container's lock from its first mkdir to its
    # record's insert): not reported, and each fix below re-checks under that lock (_if_abandoned).
    creating: dict[str, bool] = {}

    def in_creation(cid: str) -> bool:
        if cid not in creating:
            creating[cid] = _lock_busy(env, cid)
        return creating[cid]

    # 2. directories and mounts of containers that have no record (killed mid-create or mid-rm)
    cdir = os.path.join(env.root, "containers")

    def drop_dir(name: str) -> None:
        _unmount_tree(os.path.join(cdir, name))
        shutil.rmtree(os.path.join(cdir, name), ignore_errors=True)
        shutil.rmtree(env.run_dir(name), ignore_errors=True)

    for name in sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []:
        if name not in rows and not in_creation(name):
            note(f"container dir {name[:12]}: no record",
                 lambda name=name: _if_abandoned(env, name, lambda: drop_dir(name)))
    # 3. rootfs mounted for a container that is not running
    for cid, row in rows.items():
        target = os.path.join(env.container_dir(cid), "rootfs")
        if (row.status not in containers.ACTIVE and row.snapshot and os.path.ismount(target)
                and not containers.user_mounts(env, cid)):  # a `pallet mount` keeps it, until `umount`
            note(f"container {cid[:12]}: rootfs still mounted while {row.status}",
                 lambda cid=cid: _unmount_tree(env.container_dir(cid)))
        elif row.status not in containers.ACTIVE and os.path.ismount(os.path.join(env.container_dir(cid), "mounts/shm")):
            note(f"container {cid[:12]}: /dev/shm still mounted while {row.status}",  # --ipc shareable's
                 lambda cid=cid: _unless_active(env, cid, lambda: _unmount_tree(env.container_dir(cid) + "/mounts")))
    # 4. runtime state, cgroups, exit files, locks of unknown containers
    from pallet.engine.runtimes import open_runtime

    rdir = os.path.join(env.runroot, "runtimes")

    def drop_state(rname: str, cid: str) -> None:
        try:
            open_runtime(rname, env.runroot, env.daemon.runtimes).delete(cid, force=True)
        except PalletError:
            shutil.rmtree(os.path.join(rdir, rname, cid), ignore_errors=True)

    for rname in os.listdir(rdir) if os.path.isdir(rdir) else []:
        for cid in os.listdir(os.path.join(rdir, rname)):
            if cid not in rows or rows[cid].status not in containers.ACTIVE:
                note(f"runtime {rname}: leftover state for {cid[:12]}",
                     lambda r=rname, c=cid: _unless_active(env, c, lambda: drop_state(r, c)))
    for ctrl in os.listdir("/sys/fs/cgroup"):
        base = os.path.join("/sys/fs/cgroup", ctrl, "pallet")
        for cid in os.listdir(base) if os.path.isdir(base) else []:
            if len(cid) == 64 and os.path.isdir(os.path.join(base, cid)) and (cid not in rows or rows[cid].status not in containers.ACTIVE):
                if _owned_here(env, cid, rows):
                    note(f"cgroup {ctrl}/pallet/{cid[:12]}: no running container",
                         lambda cid=cid: _unless_active(
                             env, cid, lambda: containers.kill_cgroup(containers.cgroups_path(cid))))
    for sub in ("exits", "locks"):
        d = os.path.join(env.runroot, sub)
        for cid in os.listdir(d) if os.path.isdir(d) else []:
            if cid not in rows and len(cid) == 64 and not in_creation(cid):
                note(f"{sub[:-1]} file {cid[:12]}: no record",
                     lambda c=cid, p=os.path.join(d, cid): _if_abandoned(env, c, lambda: _unlink(p)))
    # 5. writable layers (snapshots) whose container record is gone
    from pallet.engine import images
    from pallet.metadata import snapshots as S

    snap_rows = S.all_rows(env.db)
    for srow in snap_rows:
        if len(srow.key) == 64 and srow.key not in rows and not in_creation(srow.key):
            note(f"snapshot {srow.key[:12]}: no container",
                 lambda k=srow.key: _if_abandoned(env, k, lambda: images.remove_container_rootfs(env.images, k)))
    # 6. writable layer dirs on disk with neither a snapshot record nor a container (killed mid-create)
    known = {r.key for r in snap_rows} | set(rows)
    sn = env.images.snapshotter
    on_disk = set(sn.snapshots()) if hasattr(sn, "snapshots") else None

    def drop_snapshot(key: str) -> None:
        try:
            sn.remove(key)
        except PalletError:
            pass

    for key in sorted(on_disk or ()):
        if len(key) == 64 and key not in known and not in_creation(key):
            note(f"snapshot dir {key[:12]}: no record", lambda k=key: _if_abandoned(env, k, lambda: drop_snapshot(k)))
    # 7. containers whose writable layer is gone: they can never start again; removed only with --force
    for cid, row in rows.items():
        if on_disk is not None and row.snapshot and row.status not in containers.ACTIVE and row.snapshot not in on_disk:
            note(f"container {cid[:12]}: its writable layer is missing",
                 lambda cid=cid: containers.remove(env, cid, force=True, resolved=True), lossy=True)
    return found


def _unless_active(env, cid: str, fix) -> None:
    """Run `fix` under the container's lock unless the container is active by then. What looks left over from
    outside may be in the making: a `run -d` (or the child creating the container for a killed one) holds the
    lock while runtime state and cgroups exist for a record that still says "created"."""
    with containers.locked(env, cid, wait=containers.FORCE_LOCK_WAIT):
        row = table.get(env.db, cid)
        if row is None or row.status not in containers.ACTIVE:
            fix()
    if row is None:  # don't leave the lock file locked() just made for a container without a record
        try:
            os.unlink(env.lock_file(cid))
        except FileNotFoundError:
            pass


def _lock_busy(env, cid: str) -> bool:
    """Whether another command holds `cid`'s lock now (for a container without a record: a create in progress,
    which locks before it makes anything; an `rm` finishing). Creates no lock file."""
    import fcntl

    try:
        fd = os.open(env.lock_file(cid), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def _if_abandoned(env, cid: str, fix) -> None:
    """Run `fix` for `cid`, which had no record, only if its lock is free and it still has no record: a create that
    began or finished since the scan keeps what it made. The lock file goes too (the last trace of `cid`)."""
    with containers.locked(env, cid, wait=0) as lock:
        if not lock.held or table.get(env.db, cid) is not None:
            return
        fix()
        _unlink(env.lock_file(cid))  # under the lock: nobody else has a use for this id's lock


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _owned_here(env, cid: str, rows) -> bool:
    """A cgroup named like ours belongs to this --root only if we have traces of it (another root may own it)."""
    return cid in rows or os.path.exists(env.exit_file(cid)) or os.path.exists(env.lock_file(cid)) \
        or os.path.isdir(env.run_dir(cid))


def _unmount_tree(path: str) -> None:
    from pallet.linux.mount import MNT_DETACH, umount2

    with open("/proc/self/mountinfo") as f:
        mps = [line.split()[4] for line in f]
    for mp in sorted((m for m in mps if m == path or m.startswith(path + "/")), key=len, reverse=True):
        try:
            umount2(mp, MNT_DETACH)
        except OSError:
            pass
