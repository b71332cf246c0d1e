"""Gather what spec_builder needs from the host and the rootfs, and write the bundle.

The pure part is spec_builder.build_spec; here: host rlimits, the user from
the rootfs' /etc/passwd (read with openat2 RESOLVE_IN_ROOT), the seccomp
profile, namespace paths of `container:ID` modes, /etc/hostname, hosts,
resolv.conf.
"""

from __future__ import annotations

import os
import resource

from pallet.engine import spec_builder
from pallet.fastjson import dumps, load_file, loads
from pallet.engine.config import ULIMITS, ContainerConfig
from pallet.errors import InvalidArgument, NotFound, WrongState


def host_facts() -> spec_builder.HostFacts:
    hard = {}
    for rl in set(ULIMITS.values()):
        num = getattr(resource, rl, None)
        if num is None:
            continue
        h = resource.getrlimit(num)[1]
        hard[rl] = -1 if h == resource.RLIM_INFINITY else h
    return spec_builder.HostFacts(hard_limits=hard, bounding_caps=bounding_caps())


def bounding_caps() -> tuple[str, ...] | None:
    try:
        with open("/proc/self/status") as f:
            line = next(ln for ln in f if ln.startswith("CapBnd:"))
    except (OSError, StopIteration):
        return None
    mask = int(line.split()[1], 16)
    return tuple(c for i, c in enumerate(spec_builder.ALL_CAPS_BY_NUMBER) if mask >> i & 1)


_SECCOMP_CACHE: dict = {}


def seccomp_for(env, cfg: ContainerConfig) -> dict | None:
    """The OCI seccomp section: Docker's default profile (or the user's), specialised to the container's caps."""
    if cfg.privileged or cfg.seccomp == "unconfined":
        return None
    key = (cfg.seccomp_profile, tuple(spec_builder.capabilities(cfg)))
    if key not in _SECCOMP_CACHE:
        _SECCOMP_CACHE[key] = _seccomp_uncached(env.runroot, cfg, list(key[1]))
    return _SECCOMP_CACHE[key]


def _seccomp_uncached(runroot: str, cfg: ContainerConfig, caps: list[str]) -> dict | None:
    try:
        from pallet.runtime import seccomp as sc
    except ImportError:
        return None
    if cfg.seccomp_profile:
        conv = getattr(sc, "docker_profile_to_oci", None)
        if conv is None:
            return None
        try:
            return conv(loads(cfg.seccomp_profile), caps)
        except ValueError as exc:
            raise InvalidArgument(f"seccomp profile {cfg.seccomp}: {exc}") from None
    return _default_profile(runroot, sc, caps)


def _default_profile(runroot: str, sc, caps: list[str]) -> dict:
    """Docker's default profile resolved for these caps on this host, kept under <runroot>/seccomp-profiles:
    resolving it (the profile code's import, default.json) is ~2.5 ms of every `run`. Keyed by the sources,
    the caps, the machine and the kernel; root-only, written whole (rename); an unreadable entry is rebuilt."""
    from _blake2 import blake2b  # hashlib would load OpenSSL (~6 ms)

    uname = os.uname()
    ident = [uname.machine, uname.release, ",".join(sorted(caps))]
    for src in sc.DEFAULT_PROFILE_SOURCES:
        st = os.stat(src)
        ident.append(f"{st.st_mtime_ns}:{st.st_size}")
    cache = os.path.join(runroot, "seccomp-profiles")
    path = os.path.join(cache, blake2b("\0".join(ident).encode(), digest_size=16).hexdigest() + ".json")
    try:
        prof = load_file(path)
        if isinstance(prof, dict) and prof.get("syscalls"):
            return prof
    except (OSError, ValueError):
        pass
    prof = sc.default_profile(caps)
    try:
        os.makedirs(cache, 0o700, exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(dumps(prof))
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only runroot: resolved again next time
    return prof


def _read_in_root(root: str, path: str) -> str:
    from pallet.linux.openat2 import open_in_root

    rfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = open_in_root(rfd, path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    finally:
        os.close(rfd)
    with os.fdopen(fd, "r", errors="replace") as f:
        return f.read(1 << 20)


def _table(text: str) -> list[list[str]]:
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(root: str, user: str, group_add: tuple[str, ...] = ()) -> tuple[int, int, tuple[int, ...]]:
    """`-u` as Docker reads it: uid, uid:gid, name, name:group; names from the rootfs."""
    if not user:
        uid_s, gid_s = "0", ""
    else:
        uid_s, _, gid_s = user.partition(":")
    passwd = None
    if uid_s.isdigit():
        uid = int(uid_s)
        gid = None
        passwd = _table(_read_in_root(root, "/etc/passwd"))
        for p in passwd:
            if len(p) > 3 and p[2] == uid_s and p[3].isdigit():
                gid = int(p[3])
                break
    else:
        passwd = _table(_read_in_root(root, "/etc/passwd"))
        match = [p for p in passwd if p[0] == uid_s and len(p) > 3]
        if not match:
            raise NotFound(f"unable to find user {uid_s}: no matching entries in passwd file")
        uid, gid = int(match[0][2]), int(match[0][3])
    groups = None
    if gid_s:
        if gid_s.isdigit():
            gid = int(gid_s)
        else:
            groups = _table(_read_in_root(root, "/etc/group"))
            g = [x for x in groups if x[0] == gid_s and len(x) > 2]
            if not g:
                raise NotFound(f"unable to find group {gid_s}: no matching entries in group file")
            gid = int(g[0][2])
    extra = []
    for ga in group_add:
        if ga.isdigit():
            extra.append(int(ga))
        else:
            groups = groups or _table(_read_in_root(root, "/etc/group"))
            g = [x for x in groups if x[0] == ga and len(x) > 2]
            if not g:
                raise NotFound(f"unable to find group {ga}: no matching entries in group file")
            extra.append(int(g[0][2]))
    return uid, gid or 0, tuple(extra)


def _ns_path(env, mode: str, kind: str) -> str:
    from pallet.engine import containers

    ref = mode.partition(":")[2]
    st = containers.get(env, ref)
    if st.status not in ("running", "paused") or not st.row.pid:
        raise WrongState(f"container {st.name} is {st.status}: cannot join its {kind} namespace")
    return f"/proc/{st.row.pid}/ns/{kind}"


def _ipc(env, cfg: ContainerConfig) -> tuple[str, str]:
    """(IPC namespace to join, host path bound at /dev/shm): a joiner's come from its donor (running and
    shareable, checked again now); a shareable container's /dev/shm was mounted by the start (pallet.engine.shm)."""
    if cfg.ipc_mode != "shareable" and not cfg.ipc_mode.startswith("container:"):
        return "", ""  # private, none (a tmpfs of its own, or no /dev/shm), host (spec_builder binds /dev/shm)
    from pallet.engine import shm

    if cfg.ipc_mode == "shareable":
        return "", shm.host_path(env, cfg.id)
    st, path = shm.donor(env, cfg.ipc_mode[10:])
    return f"/proc/{st.row.pid}/ns/ipc", path


def _devices(cfg: ContainerConfig) -> tuple[tuple, tuple]:
    """--device nodes and cgroup rules, stat'ed now (a device's numbers may change between starts);
    --privileged adds every host device, as Docker."""
    if not cfg.devices and not cfg.device_cgroup_rules and not cfg.privileged:
        return (), ()
    from pallet.engine import devices

    nodes, rules = devices.resolve_all(cfg.devices, cfg.device_cgroup_rules)
    if cfg.privileged:
        nodes = devices.host_devices() + nodes
    return nodes, rules


def _online(kind: str) -> str:
    """The host's online CPUs ("cpu") or memory nodes ("node"), as a list like 0-1."""
    try:
        with open(f"/sys/devices/system/{kind}/online") as f:
            return f.read().strip()
    except OSError:
        return "" if kind == "cpu" else "0"  # no NUMA sysfs: one node


def check_resources(r) -> None:
    """spec_builder.check_resources with this host's CPUs and memory nodes (create, and update's merged values)."""
    spec_builder.check_resources(r, online_cpus=_online("cpu") if r.cpuset_cpus else "",
                                 online_mems=_online("node") if r.cpuset_mems else "",
                                 ncpus=os.cpu_count() or 0)


def check(env, cfg: ContainerConfig) -> None:
    """Plan the spec with a stand-in rootfs: bad caps, ulimits, seccomp profiles fail here, at create."""
    for mode in (cfg.network_mode, cfg.pid_mode):
        if mode.startswith("container:"):
            from pallet.engine import containers

            containers.resolve(env, mode.partition(":")[2])
    if cfg.ipc_mode.startswith("container:"):  # running and shareable, or nothing is created
        from pallet.engine import shm

        shm.donor(env, cfg.ipc_mode[10:])
    if cfg.init:
        _init_binary()
    spec_builder.check_mounts(cfg)
    check_resources(cfg.resources)
    nodes, rules = _devices(cfg) if not cfg.privileged else ((), ())  # host devices: stat'ed at start
    resolved = spec_builder.Resolved(rootfs="/", seccomp=seccomp_for(env, cfg), default_ulimits=env.daemon.default_ulimits,
                                     bind_sources=tuple(m.source for m in cfg.mounts), devices=nodes, device_rules=rules)
    spec = spec_builder.build_spec(cfg, resolved, host_facts())
    if cfg.sysctls:
        from pallet.runtime import sysctl

        sysctl.check(spec["linux"]["sysctl"], {n["type"]: n.get("path", "") for n in spec["linux"]["namespaces"]})


def write_bundle(env, st, rootfs_dir: str) -> str:
    """Write config.json and the /etc files for one start; return the bundle dir."""
    from pallet.engine.containers import cgroups_path, mount_sources

    cfg = st.config
    cdir = env.container_dir(st.id)
    uid, gid, extra = resolve_user(rootfs_dir, cfg.user, cfg.group_add)
    hostname = cfg.hostname or st.id[:12]
    files = {}
    if cfg.network_mode != "host" and cfg.uts_mode != "host":
        files["hostname"] = hostname + "\n"
    files["hosts"] = f"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    try:
        with open("/etc/resolv.conf") as f:
            files["resolv.conf"] = f.read()
    except OSError:
        files["resolv.conf"] = ""
    if cfg.network_mode == "host":
        try:
            with open("/etc/hosts") as f:
                files["hosts"] = f.read()
        except OSError:
            pass
    for name, text in files.items():
        with open(os.path.join(cdir, name), "w") as f:
            f.write(text)
    nodes, rules = _devices(cfg)
    sources = mount_sources(env, cfg)
    if any(m.type == "volume" for m in cfg.mounts):
        _copy_up_volumes(cfg, rootfs_dir, sources)
    if cfg.workdir and cfg.workdir != "/":
        _ensure_workdir(rootfs_dir, cfg.workdir)
    ipcns, shm_source = _ipc(env, cfg)
    resolved = spec_builder.Resolved(
        rootfs=rootfs_dir, devices=nodes, device_rules=rules, uid=uid, gid=gid, additional_gids=extra,
        bind_sources=sources,
        hostname_file=os.path.join(cdir, "hostname") if "hostname" in files else "",
        hosts_file=os.path.join(cdir, "hosts"), resolv_file=os.path.join(cdir, "resolv.conf"),
        cgroups_path=cgroups_path(st.id),
        netns_path=_ns_path(env, cfg.network_mode, "net") if cfg.network_mode.startswith("container:") else "",
        pidns_path=_ns_path(env, cfg.pid_mode, "pid") if cfg.pid_mode.startswith("container:") else "",
        ipcns_path=ipcns, shm_source=shm_source,
        seccomp=seccomp_for(env, cfg), default_ulimits=env.daemon.default_ulimits,
    )
    spec = spec_builder.build_spec(cfg, resolved, host_facts())
    if cfg.init:
        spec["process"]["args"] = ["/dev/init", "--", *spec["process"]["args"]]
        spec["mounts"].append({"destination": "/dev/init", "type": "bind", "source": _init_binary(),
                               "options": ["rbind", "ro", "rprivate"]})
    tmp = os.path.join(cdir, "config.json.tmp")
    with open(tmp, "w") as f:
        f.write(dumps(spec))  # json.dumps' output without importing json (~6 ms of every run)
    os.replace(tmp, os.path.join(cdir, "config.json"))
    return cdir


def _ensure_workdir(rootfs_dir: str, workdir: str) -> None:
    """-w DIR that the image lacks is created (root-owned, 0755), as Docker and runc do."""
    from pallet.linux.openat2 import open_in_root

    rfd = os.open(rootfs_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            os.close(open_in_root(rfd, workdir, os.O_PATH | os.O_CLOEXEC))
            return
        except FileNotFoundError:
            pass
        from pallet.runtime.rootfs import ensure  # resolves each step inside the root, links included

        os.close(ensure(rfd, workdir, True))
    except OSError as exc:
        raise InvalidArgument(f"--workdir {workdir}: cannot create it in the container: {exc.strerror}") from None
    finally:
        os.close(rfd)


def _copy_up_volumes(cfg: ContainerConfig, rootfs_dir: str, sources: tuple[str, ...]) -> None:
    """An empty volume mounted over a directory of the image starts as a copy of it (Docker's copy-up;
    `nocopy` skips it). The image side is opened inside the root, so a link can't point the copy elsewhere."""
    from pallet.linux.openat2 import open_in_root

    for m, src in zip(cfg.mounts, sources):
        if m.type != "volume" or "nocopy" in m.options or not src or os.listdir(src):
            continue
        rfd = os.open(rootfs_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            dfd = open_in_root(rfd, m.destination, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:  # nothing (or not a directory) there in the image
            continue
        finally:
            os.close(rfd)
        try:
            if not os.listdir(dfd):
                continue
            import subprocess

            # cp -a keeps owners, modes, links and xattrs; it reads the tree below the opened directory
            r = subprocess.run(["cp", "-a", "--", f"/proc/self/fd/{dfd}/.", src + "/"], pass_fds=(dfd,),
                               capture_output=True, text=True)
            if r.returncode:
                msg = (r.stderr.strip().splitlines() or ["cp failed"])[-1]
                raise InvalidArgument(f"volume {m.source or 'for ' + m.destination}: copying the image's "
                                      f"{m.destination} into it failed: {msg}")
        finally:
            os.close(dfd)


def _init_binary() -> str:
    """--init: a minimal init that reaps zombies. busybox-static's has none suitable; tini or catatonit if present."""
    for p in ("/usr/bin/tini-static", "/usr/bin/tini", "/usr/libexec/podman/catatonit", "/usr/bin/catatonit",
              "/usr/bin/docker-init"):
        if os.access(p, os.X_OK):
            return p
    raise NotFound("--init needs an init binary (tini or catatonit) on this host")
