"""Container use cases: create, resolve, state folding, remove.

`ContainerConfig` is fixed at create; `ContainerState` is re-read from the
database at the top of each use case, after folding in the exit files the
monitors dropped (`sync`). Mutating use cases hold the container's file lock
so a monitor's cleanup and a user's `rm` never interleave.
"""

from __future__ import annotations

import os
import time

from pallet.engine import names, rootfs
from pallet.engine.config import ContainerConfig, MountSpec
from pallet.engine.dbconn import write
from pallet.fastjson import loads
from pallet.linux.flock import FileLock
from pallet.metadata.db import IntegrityError
from pallet.values import frozen
from pallet.engine.env import ContainerEnv
from pallet.errors import AlreadyExists, InvalidArgument, NotFound, PalletError, WrongState
from pallet.metadata import containers as table

ACTIVE = ("running", "paused")
# How long `rm -f` and `system check --repair` wait for a container's lock before going ahead without it
# (see `locked`): far above a create under load, far below "hung".
FORCE_LOCK_WAIT = 20.0
SIGKILL = 9  # signal.SIGKILL; `import signal` would bring enum to every command


@frozen
class ContainerState:
    """A row plus its parsed config: what one use case works from."""

    row: table.ContainerRow
    config: ContainerConfig

    @property
    def id(self) -> str:
        return self.row.id

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def status(self) -> str:
        return self.row.status


# ---------------------------------------------------------------- locks


def locked(env: ContainerEnv, cid: str, wait: float | None = None) -> FileLock:
    """`with locked(env, cid):` the container's lock file, flock'ed exclusively; released on exit.

    `wait` (seconds) bounds the wait for repair commands: the lock of a container whose `run -d` and creator
    were both SIGKILLed stays with its never-started init (which inherited it) until that init is deleted;
    after `wait` the body runs without the lock so it can delete that init.
    """
    return FileLock(env.lock_file(cid), wait=wait)


# ---------------------------------------------------------------- processes


def proc_start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat (start time in ticks): tells a live process from a reused pid."""
    try:  # os.open/os.read, not open(): `ps` calls this for every running container
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return 0
    try:
        data = os.read(fd, 4096)
    except OSError:
        return 0
    finally:
        os.close(fd)
    fields = data[data.rfind(b")") + 2:].split()
    if fields and fields[0] == b"Z":
        return 0
    return int(fields[19])


def alive(pid: int, start: int = 0) -> bool:
    if pid <= 0:
        return False
    st = proc_start_time(pid)
    return st != 0 and (start == 0 or st == start)


# ---------------------------------------------------------------- lookup and state


def load(env: ContainerEnv, cid: str) -> ContainerState:
    row = table.get(env.db, cid)
    if row is None:
        raise NotFound(f"no such container: {cid}")
    return ContainerState(row, ContainerConfig.from_json(row.config))


def resolve(env: ContainerEnv, ref: str) -> str:
    if not ref:
        raise InvalidArgument("container name or id is empty")
    return names.pick(ref, table.lookup(env.db, ref.lstrip("/")))


def get(env: ContainerEnv, ref: str) -> ContainerState:
    """Resolve `ref`, fold its exit file, return its fresh state."""
    cid = resolve(env, ref)
    sync_one(env, cid)
    return load(env, cid)


def read_exit(env: ContainerEnv, cid: str) -> dict | None:
    try:
        with open(env.exit_file(cid)) as f:
            return loads(f.read())
    except (OSError, ValueError):
        return None


def sync_one(env: ContainerEnv, cid: str, row: table.ContainerRow | None = None) -> None:
    """Fold the exit file (or a vanished container) into the row; idempotent."""
    row = row or table.get(env.db, cid)
    if row is None or row.status not in ACTIVE:
        return
    rec = read_exit(env, cid)
    if rec is None:
        if row.pid and alive(row.pid, row.pid_start):
            return
        if row.monitor_pid and alive(row.monitor_pid):
            return  # the monitor reaped it and is writing the exit file
        if row.pid == 0 and row.monitor_pid and alive(row.monitor_pid):
            return
        if row.pid == 0 and row.started_at and time.time() - row.started_at < 5 and row.monitor_pid == 0:
            return
        rec = {"exit_code": 255 if row.pid else 0, "finished_at": time.time(), "oom_killed": False,
               "error": "container process vanished: its monitor died"}
    with write(env.db):
        cur = table.get(env.db, cid)
        if cur is None or cur.status not in ACTIVE:
            return
        table.update(env.db, cid, status="exited", exit_code=int(rec.get("exit_code", 255)),
                     finished_at=float(rec.get("finished_at") or time.time()),
                     oom_killed=int(bool(rec.get("oom_killed"))), error=rec.get("error", "") or "", monitor_pid=0)


def sync(env: ContainerEnv) -> None:
    rows = table.by_status(env.db, ACTIVE)
    if not rows:
        return
    try:  # one listing instead of a failed open() per container (ps, stats with 50 running)
        exits = set(os.listdir(os.path.join(env.runroot, "exits")))
    except OSError:
        exits = None
    for row in rows:
        if exits is not None and row.id not in exits and row.pid and alive(row.pid, row.pid_start):
            continue  # running, no exit file: what sync_one would conclude too
        sync_one(env, row.id, row)


# ---------------------------------------------------------------- create


def validate_mount_sources(cfg: ContainerConfig) -> None:
    for m in cfg.mounts:
        if m.type == "bind" and not os.path.exists(m.source):
            raise InvalidArgument(f"invalid mount config for type \"bind\": bind source path does not exist: {m.source}")


def _merge_image(cfg_kwargs: dict, image: rootfs.ImageInfo) -> None:
    """Docker's merge: the image supplies what the user left out."""
    ic = image.config or {}
    if not cfg_kwargs.get("entrypoint_set"):
        cfg_kwargs["entrypoint"] = tuple(ic.get("Entrypoint") or ())
        if not cfg_kwargs.get("cmd"):
            cfg_kwargs["cmd"] = tuple(ic.get("Cmd") or ())
    cfg_kwargs.pop("entrypoint_set", None)
    user_env = list(cfg_kwargs.get("env", ()))
    keys = {e.partition("=")[0] for e in user_env}
    cfg_kwargs["env"] = tuple([e for e in ic.get("Env") or () if e.partition("=")[0] not in keys] + user_env)
    if not cfg_kwargs.get("workdir"):
        cfg_kwargs["workdir"] = ic.get("WorkingDir", "") or ""
    if not cfg_kwargs.get("user"):
        cfg_kwargs["user"] = ic.get("User", "") or ""
    labels = dict(ic.get("Labels") or {})
    labels.update(dict(cfg_kwargs.get("labels", ())))
    cfg_kwargs["labels"] = tuple(sorted(labels.items()))
    if ic.get("StopSignal") and cfg_kwargs.get("stop_signal") in (None, "", "SIGTERM"):
        cfg_kwargs["stop_signal"] = ic["StopSignal"]


def create(env: ContainerEnv, kwargs: dict) -> ContainerState:
    """Make a container in status "created": records, bundle dir, writable layer. All or nothing.

    `kwargs` are ContainerConfig fields (without id), plus `entrypoint_set`.
    """
    from pallet.engine import spec_plan

    kwargs = dict(kwargs)
    name = kwargs.pop("name", "") or ""
    if name:
        names.validate_name(name)
        name = name.lstrip("/")
    cid = names.new_id()
    image_ref = kwargs.get("image", "")
    if kwargs.get("rootfs_dir"):
        rdir = os.path.abspath(kwargs["rootfs_dir"])
        if not os.path.isdir(rdir):
            raise InvalidArgument(f"--rootfs {rdir}: not a directory")
        kwargs["rootfs_dir"] = rdir
        image = rootfs.ImageInfo(ref=rdir, id="")
        kwargs["image"] = rdir
    else:
        image = rootfs.resolve_image(env, image_ref)
        kwargs["image_id"] = image.id
    _merge_image(kwargs, image)
    if not kwargs.get("entrypoint") and not kwargs.get("cmd"):
        raise InvalidArgument(f"no command specified for the container and image {image_ref} has none")
    if not kwargs.get("ipc_mode"):  # fixed at create, as dockerd does with its default-ipc-mode
        kwargs["ipc_mode"] = env.daemon.default_ipc_mode
    kwargs.setdefault("runtime", "")
    kwargs["runtime"] = env.runtime_name(kwargs["runtime"])
    env.runtime(kwargs["runtime"])  # unknown runtime -> error before anything exists
    generated = not name
    if generated:
        name = names.random_name(table.names(env.db))  # free now; the INSERT's UNIQUE catches a race
    cfg = ContainerConfig(id=cid, name=name, **kwargs)
    validate_mount_sources(cfg)
    if not generated and any(n == name for _, n in table.lookup(env.db, name)):
        raise AlreadyExists(f"the container name \"/{name}\" is already in use: remove or rename that container")
    # Plan the spec now so a bad cap, ulimit, or seccomp profile fails before anything is created.
    spec_plan.check(env, cfg)

    cdir = env.container_dir(cid)
    created_volumes: list[str] = []
    snapshot = ""
    # The lock, taken before anything of the container exists and held until its record does, tells a create in
    # progress from what a killed one left: `system check --repair` skips what it cannot lock.
    with locked(env, cid):
        try:
            os.makedirs(cdir)
            os.makedirs(env.run_dir(cid), exist_ok=True)
            created_volumes = _ensure_volumes(env, cfg)
            if not cfg.rootfs_dir:
                snapshot = rootfs.prepare(env, cid, image, cfg.storage_size or None)
            row = table.ContainerRow(
                id=cid, name=name, image=cfg.image, image_id=cfg.image_id, created=time.time(), config=cfg.to_json(),
                status="created", pid=0, pid_start=0, monitor_pid=0, exit_code=0, oom_killed=0, error="",
                started_at=0.0, finished_at=0.0, restart_count=0, stopped_by_user=0,
                rootfs=cfg.rootfs_dir or rootfs.merged_dir(env, cid), snapshot=snapshot,
            )
            try:
                with write(env.db):
                    table.insert(env.db, row)
            except IntegrityError:
                raise AlreadyExists(f"the container name \"/{name}\" is already in use: remove or rename that container") from None
        except BaseException:
            _undo_create(env, cid, snapshot, created_volumes)
            raise
    return ContainerState(row, cfg)


def _undo_create(env: ContainerEnv, cid: str, snapshot: str, volumes: list[str]) -> None:
    from pallet.engine import volumes as vol

    if snapshot:
        try:
            rootfs.remove(env, _FakeRow(cid, snapshot))
        except Exception:
            pass
    for v in volumes:
        try:
            vol.remove(env, v, force=True)
        except Exception:
            pass
    _rmtree(env.container_dir(cid))
    _rmtree(env.run_dir(cid))
    try:  # under the lock still: nothing else knows this id
        os.unlink(env.lock_file(cid))
    except FileNotFoundError:
        pass


@frozen
class _FakeRow:
    id: str
    snapshot: str
    rootfs: str = ""


def _ensure_volumes(env: ContainerEnv, cfg: ContainerConfig) -> list[str]:
    """Create the named and anonymous volumes `cfg` mounts; return the ones created now."""
    if not any(m.type == "volume" for m in cfg.mounts):
        return []
    from pallet.engine import volumes as vol

    made = []
    for m in cfg.mounts:
        if m.type != "volume":
            continue
        if vol.ensure(env, m.source or "", anonymous=not m.source, cid=cfg.id, dest=m.destination):
            made.append(m.source or vol.anonymous_name(cfg.id, m.destination))
    return made


# ---------------------------------------------------------------- remove


def kill_cgroup(cgroups_path: str) -> None:
    """SIGKILL every process left in the container's cgroups and remove them (monitor and runtime gone)."""
    rel = cgroups_path.lstrip("/")
    base = "/sys/fs/cgroup"
    dirs = []
    try:
        for ctrl in os.listdir(base):
            d = os.path.join(base, ctrl, rel)
            if os.path.isdir(d):
                dirs.append(d)
    except OSError:
        return
    for d in dirs:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                for line in f:
                    try:
                        os.kill(int(line), SIGKILL)
                    except (ProcessLookupError, ValueError):
                        pass
        except OSError:
            pass
    for d in dirs:
        for _ in range(50):
            try:
                # children first (runc may create none, but be safe)
                for sub, _dirs, _files in sorted(os.walk(d), key=lambda t: -len(t[0])):
                    os.rmdir(sub)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


def _rmtree(path: str) -> None:
    """rm -rf of a container's own dirs (bundle, logs, run files), skipping what it cannot remove."""
    from pallet.linux.rmtree import remove_tree

    remove_tree(path, ignore_errors=True)


def cgroups_path(cid: str) -> str:
    return f"/pallet/{cid}"


def teardown_runtime(env: ContainerEnv, st: ContainerState, *, kill: bool) -> None:
    """Delete the runtime's state for the container (killing it when `kill`), unmount, drop run files."""
    try:
        rt = env.runtime(st.config.runtime)
    except PalletError:
        if not kill:
            raise
        # its runtime left daemon.json (or its binary went): `rm -f` still kills by cgroup and drops the state
        kill_cgroup(cgroups_path(st.id))
        _rmtree(os.path.join(env.runroot, "runtimes", st.config.runtime, st.id))
        unmount_all(env, st)
        return
    exists = rt.state(st.id) is not None
    if kill and exists:
        try:
            rt.kill(st.id, "SIGKILL", all_processes=True)
        except PalletError:
            pass
    try:
        if exists:
            rt.delete(st.id, force=kill)
    except PalletError:
        if kill:
            kill_cgroup(cgroups_path(st.id))
            _forget_runtime_state(rt, st.id)
        else:
            raise
    if kill:
        kill_cgroup(cgroups_path(st.id))
    if not exists:  # a state dir without a state (an `rm -f` killed inside the runtime's delete): nothing loads it
        _forget_runtime_state(rt, st.id)
    unmount_all(env, st)


def unmount_all(env: ContainerEnv, st: ContainerState) -> None:
    """The container's mounts on the host: its rootfs (unless a user's `pallet mount` holds it, as podman: only
    `umount` or `rm` drops that) and, when its IPC is shareable, its /dev/shm."""
    if not user_mounts(env, st.id):
        rootfs.unmount(env, st.row)
    if st.config.ipc_mode == "shareable":
        from pallet.engine import shm

        shm.unmount(env, st.id)


def _user_mounts_file(env: ContainerEnv, cid: str) -> str:
    return os.path.join(env.run_dir(cid), "mounts")  # the runroot: a mount does not outlive a reboot either


def user_mounts(env: ContainerEnv, cid: str) -> int:
    """How many `pallet mount`s of the container no `umount` undid yet (podman's mount counter); 0 when its
    rootfs is not mounted (a count left by a mount that is gone)."""
    try:
        with open(_user_mounts_file(env, cid)) as f:
            n = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0
    return n if n > 0 and rootfs._is_mountpoint(rootfs.merged_dir(env, cid)) else 0


def set_user_mounts(env: ContainerEnv, cid: str, n: int) -> None:
    """Record the mount counter (the caller holds the container's lock)."""
    path = _user_mounts_file(env, cid)
    if n <= 0:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(f"{n}\n")
    os.replace(tmp, path)


def _forget_runtime_state(rt, cid: str) -> None:
    root = getattr(rt, "state_root", "")
    if root:
        _rmtree(os.path.join(root, cid))


def stop_monitor(env: ContainerEnv, st: ContainerState) -> None:
    """Kill a monitor left alive (hung): only a process whose cmdline names this container's monitor config."""
    pid = st.row.monitor_pid
    if pid <= 0 or pid == os.getpid():
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read()
    except OSError:
        return
    if st.id.encode() in cmd:
        try:
            os.kill(pid, SIGKILL)
        except ProcessLookupError:
            pass


def remove(env: ContainerEnv, ref_or_id: str, *, force: bool = False, volumes: bool = False, resolved: bool = False,
           torn_down: bool = False) -> str:
    cid = ref_or_id if resolved else resolve(env, ref_or_id)
    with locked(env, cid, wait=FORCE_LOCK_WAIT if force else None):
        row = table.get(env.db, cid)
        if row is None:
            return cid  # removed meanwhile (the monitor's --rm cleanup)
        sync_one(env, cid, row)
        st = load(env, cid)
        if st.status in ACTIVE:
            if not force:
                raise WrongState(f"container {st.name} is {st.status}: stop it before removing or use -f")
            if st.status == "paused":
                try:
                    env.runtime(st.config.runtime).resume(cid)
                except PalletError:
                    pass
        if not torn_down or st.status in ACTIVE:
            teardown_runtime(env, st, kill=force or st.status in ACTIVE)
        stop_monitor(env, st)
        try:  # a monitor killed while writing its exit record leaves the temp file of write_atomic
            os.unlink(f"{env.exit_file(cid)}.tmp{st.row.monitor_pid}")
        except (FileNotFoundError, ValueError):
            pass
        with write(env.db):
            table.update(env.db, cid, status="removing")
        if torn_down:  # by the monitor's cleanup, which may have failed halfway: no mount may go with the dir
            unmount_all(env, st)
        rootfs.unmount(env, st.row)  # a user's `pallet mount` too: rm ends it
        rootfs.remove(env, st.row)
        _rmtree(env.container_dir(cid))
        _rmtree(env.run_dir(cid))
        try:
            os.unlink(env.exit_file(cid))
        except FileNotFoundError:
            pass
        with write(env.db):
            table.delete(env.db, cid)
        anonymous = [m for m in st.config.mounts if m.type == "volume" and not m.source]
        if volumes and anonymous:  # after the record is gone, so the volume has no user left
            from pallet.engine import volumes as vol

            for m in anonymous:
                vol.remove(env, vol.anonymous_name(cid, m.destination), force=True)
    try:
        os.unlink(env.lock_file(cid))
    except FileNotFoundError:
        pass
    return cid


def rename(env: ContainerEnv, ref: str, new_name: str) -> None:
    cid = resolve(env, ref)
    new_name = names.validate_name(new_name)
    try:
        with write(env.db):
            env.db.execute("UPDATE containers SET name = ? WHERE id = ?", (new_name, cid))
    except IntegrityError:
        raise AlreadyExists(f"the container name \"/{new_name}\" is already in use") from None


def list_states(env: ContainerEnv) -> list[ContainerState]:
    sync(env)
    return [ContainerState(r, ContainerConfig.from_json(r.config)) for r in table.all_rows(env.db)]


def mount_sources(env: ContainerEnv, cfg: ContainerConfig) -> tuple[str, ...]:
    out = []
    for m in cfg.mounts:
        if m.type == "bind":
            out.append(m.source)
        elif m.type == "volume":
            from pallet.engine import volumes as vol

            out.append(vol.data_dir(env, m.source or vol.anonymous_name(cfg.id, m.destination)))
        else:
            out.append("")
    return tuple(out)


def mount_record(env: ContainerEnv, cfg: ContainerConfig, m: MountSpec, source: str) -> dict:
    """Docker's inspect `Mounts` entry."""
    rec = {"Type": m.type, "Source": source, "Destination": m.destination, "Mode": ",".join(m.options),
           "RW": not m.readonly, "Propagation": "rprivate" if m.type == "bind" else ""}
    if m.type == "volume":
        from pallet.engine import volumes as vol

        rec = {"Type": "volume", "Name": m.source or vol.anonymous_name(cfg.id, m.destination), "Source": source,
               "Destination": m.destination, "Driver": "local", "Mode": ",".join(m.options) or "z",
               "RW": not m.readonly, "Propagation": ""}
    return rec
