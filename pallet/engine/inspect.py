"""Docker's shapes: `inspect` JSON, `ps` rows, human durations."""

from __future__ import annotations

import os
import time

from pallet.engine.containers import ContainerState, mount_record, mount_sources
from pallet.engine.units import human_duration, since

ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339(ts: float) -> str:
    if not ts:
        return ZERO_TIME
    ns = int(ts * 1e9)
    s, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{frac:09d}Z"


def status_text(st: ContainerState, now: float | None = None) -> str:
    now = now or time.time()
    r = st.row
    if st.status == "running":
        return f"Up {human_duration(now - r.started_at)}"
    if st.status == "paused":
        return f"Up {human_duration(now - r.started_at)} (Paused)"
    if st.status == "exited":
        return f"Exited ({r.exit_code}) {human_duration(now - r.finished_at)} ago"
    if st.status == "removing":
        return "Removal In Progress"
    return "Created"


def command_text(st: ContainerState) -> str:
    return " ".join(st.config.argv)


def current_pid(env, st: ContainerState) -> int:
    if st.status not in ("running", "paused"):
        return 0
    if st.row.pid:
        return st.row.pid
    try:  # a foreground run records its pid lazily
        with open(os.path.join(env.run_dir(st.id), "pid")) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def inspect(env, st: ContainerState) -> dict:
    cfg, r = st.config, st.row
    docker_status = {"exited": "exited", "created": "created", "running": "running", "paused": "paused",
                     "removing": "removing"}.get(st.status, st.status)
    srcs = mount_sources(env, cfg)
    cdir = env.container_dir(st.id)
    graph = {"Name": "overlay2", "Data": None}
    if r.snapshot:
        graph = {"Name": "overlay2", "Data": {"MergedDir": os.path.join(cdir, "rootfs"), **_snapshot_dirs(env, r)}}
    elif cfg.rootfs_dir:
        graph = {"Name": "rootfs", "Data": {"MergedDir": cfg.rootfs_dir}}
    binds = []
    for m in cfg.mounts:
        if m.type in ("bind", "volume") and m.source:
            binds.append(f"{m.source}:{m.destination}" + (":ro" if m.readonly else ""))
    res = cfg.resources
    return {
        "Id": st.id,
        "Created": rfc3339(r.created),
        "Path": cfg.argv[0] if cfg.argv else "",
        "Args": list(cfg.argv[1:]),
        "State": {
            "Status": docker_status,
            "Running": st.status in ("running", "paused"),
            "Paused": st.status == "paused",
            "Restarting": False,
            "OOMKilled": bool(r.oom_killed),
            "Dead": False,
            "Pid": current_pid(env, st),
            "ExitCode": r.exit_code,
            "Error": r.error,
            "StartedAt": rfc3339(r.started_at),
            "FinishedAt": rfc3339(r.finished_at),
        },
        "Image": cfg.image_id or cfg.image,
        "ResolvConfPath": os.path.join(cdir, "resolv.conf"),
        "HostnamePath": os.path.join(cdir, "hostname"),
        "HostsPath": os.path.join(cdir, "hosts"),
        "LogPath": env.log_path(st.id),
        "Name": "/" + st.name,
        "RestartCount": r.restart_count,
        "Driver": graph["Name"],
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": {
            "Binds": binds or None,
            "ContainerIDFile": "",
            "LogConfig": {"Type": cfg.log_driver, "Config": {} if cfg.log_driver == "none" else
                          {"max-size": str(cfg.log_max_size), "max-file": str(cfg.log_max_file)}},
            "NetworkMode": cfg.network_mode,
            "PortBindings": {},
            "RestartPolicy": {"Name": cfg.restart.name, "MaximumRetryCount": cfg.restart.max_retries},
            "AutoRemove": cfg.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": None,
            "CapAdd": list(cfg.cap_add) or None,
            "CapDrop": list(cfg.cap_drop) or None,
            "CgroupnsMode": "private",
            "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None,
            "GroupAdd": list(cfg.group_add) or None,
            "IpcMode": cfg.ipc_mode or "private",
            "Cgroup": "",
            "Links": None,
            "OomScoreAdj": 0,
            "PidMode": cfg.pid_mode,
            "Privileged": cfg.privileged,
            "PublishAllPorts": False,
            "ReadonlyRootfs": cfg.read_only,
            "SecurityOpt": list(cfg.security_opt) or None,
            "Tmpfs": {m.destination: ",".join(m.options) for m in cfg.mounts if m.type == "tmpfs"} or None,
            "UTSMode": cfg.uts_mode,
            "UsernsMode": "",
            "ShmSize": cfg.shm_size,
            "Runtime": cfg.runtime,
            "Isolation": "",
            "CpuShares": res.cpu_shares,
            "Memory": res.memory,
            "NanoCpus": res.nano_cpus,
            "CgroupParent": "",
            "BlkioWeight": res.blkio_weight,
            "CpuPeriod": res.cpu_period,
            "CpuQuota": res.cpu_quota,
            "CpusetCpus": res.cpuset_cpus,
            "CpusetMems": res.cpuset_mems,
            "Devices": [dict(zip(("PathOnHost", "PathInContainer", "CgroupPermissions"), d.split(":")))
                        for d in cfg.devices],
            "DeviceCgroupRules": list(cfg.device_cgroup_rules) or None,
            "MemoryReservation": res.memory_reservation,
            "MemorySwap": res.memory_swap or (2 * res.memory if res.memory else 0),
            "MemorySwappiness": None if res.memory_swappiness < 0 else res.memory_swappiness,
            "OomKillDisable": res.oom_kill_disable,
            "PidsLimit": res.pids_limit or None,
            "Ulimits": [{"Name": u.name, "Hard": u.hard, "Soft": u.soft} for u in cfg.ulimits] or None,
            "Init": cfg.init or None,
            "Sysctls": dict(cfg.sysctls) or None,
        },
        "GraphDriver": graph,
        "Mounts": [mount_record(env, cfg, m, s) for m, s in zip(cfg.mounts, srcs) if m.type != "tmpfs"],
        "Config": {
            "Hostname": cfg.hostname or st.id[:12],
            "Domainname": "",
            "User": cfg.user,
            "AttachStdin": cfg.interactive,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": cfg.tty,
            "OpenStdin": cfg.interactive,
            "StdinOnce": cfg.stdin_once,
            "Env": list(cfg.env),
            "Cmd": list(cfg.cmd) or None,
            "Image": cfg.image,
            "Volumes": {m.destination: {} for m in cfg.mounts if m.type == "volume" and not m.source} or None,
            "WorkingDir": cfg.workdir,
            "Entrypoint": list(cfg.entrypoint) or None,
            "OnBuild": None,
            "Labels": dict(cfg.labels),
            "StopSignal": cfg.stop_signal,
            "StopTimeout": cfg.stop_timeout,
        },
        "NetworkSettings": {
            "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "Ports": {}, "SandboxKey": "",
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None, "EndpointID": "",
            "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": {cfg.network_mode.split(":")[0]: {"NetworkID": "", "EndpointID": "", "Gateway": "",
                                                          "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}},
        },
    }


def _snapshot_dirs(env, row) -> dict:
    """Docker's overlay2 GraphDriver.Data: LowerDir (top first), UpperDir, WorkDir."""
    try:
        sn = env.images.snapshotter
        upper = sn.upper_dir(row.snapshot)
        lowers = sn.layer_dirs(sn.parent_of(row.snapshot))
    except Exception:  # a snapshotter without these (vfs) or a snapshot gone: leave them out
        return {}
    return {"LowerDir": ":".join(lowers), "UpperDir": upper,
            "WorkDir": os.path.join(os.path.dirname(upper), "work")}


def ps_row(env, st: ContainerState, *, no_trunc: bool = False, size: str = "") -> dict:
    """The fields `ps --format` knows, with Docker's names."""
    cmd = command_text(st)
    if not no_trunc and len(cmd) > 20:
        cmd = cmd[:19] + "…"
    return {
        "ID": st.id if no_trunc else st.id[:12],
        "Image": st.config.image,
        "Command": f'"{cmd}"',
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(st.row.created)),
        "RunningFor": since(st.row.created),
        "Ports": "",
        "State": st.status,
        "Status": status_text(st),
        "Size": size,
        "Names": st.name,
        "Labels": ",".join(f"{k}={v}" for k, v in st.config.labels),
        "Mounts": ",".join(m.source or m.destination for m in st.config.mounts),
        "Networks": st.config.network_mode,
    }
