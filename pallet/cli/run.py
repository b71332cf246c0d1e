"""`pallet create` and `pallet run`: flags -> ContainerConfig fields -> engine.

Docker's exit codes: run returns the container's status; 125 when pallet
itself fails, 126 when the command cannot be invoked, 127 when it is not found.
"""

from __future__ import annotations

import os
import sys

from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import parser
from pallet.cli.flags import REMAINDER
from pallet.errors import PalletError


def _add_flags(p) -> None:
    a = p.add_argument
    a("-d", "--detach", action="store_true")
    a("-i", "--interactive", action="store_true")
    a("-t", "--tty", action="store_true")
    a("--detach-keys", default=None)
    a("--rm", action="store_true")
    a("--name", default="")
    a("-e", "--env", action="append", default=[])
    a("--env-file", action="append", default=[])
    a("-w", "--workdir", default="")
    a("-u", "--user", default="")
    a("--group-add", action="append", default=[])
    a("--entrypoint", default=None)
    a("-h", "--hostname", default="")
    a("-l", "--label", action="append", default=[])
    a("-v", "--volume", action="append", default=[])
    a("--mount", action="append", default=[])
    a("--tmpfs", action="append", default=[])
    a("--read-only", action="store_true")
    a("-m", "--memory", default="")
    a("--memory-swap", default="")
    a("--memory-swappiness", type=int, default=-1)
    a("--memory-reservation", default="")
    a("--oom-kill-disable", action="store_true")
    a("--cpus", default="")
    a("-c", "--cpu-shares", type=int, default=0)
    a("--cpu-quota", type=int, default=0)
    a("--cpu-period", type=int, default=0)
    a("--cpuset-cpus", default="")
    a("--cpuset-mems", default="")
    a("--pids-limit", type=int, default=0)
    a("--blkio-weight", type=int, default=0)
    a("--device", action="append", default=[])
    a("--device-cgroup-rule", action="append", default=[])
    a("--ulimit", action="append", default=[])
    a("--cap-add", action="append", default=[])
    a("--cap-drop", action="append", default=[])
    a("--privileged", action="store_true")
    a("--security-opt", action="append", default=[])
    a("--sysctl", action="append", default=[])
    a("--shm-size", default="")
    a("--init", action="store_true")
    a("--stop-signal", default="")
    a("--stop-timeout", type=int, default=None)
    a("--restart", default="no")
    a("--net", "--network", dest="network", default="")
    a("--pid", default="")
    a("--ipc", default="")
    a("--uts", default="")
    a("--runtime", default="")
    a("--storage-opt", action="append", default=[])
    a("--log-opt", action="append", default=[])
    a("--rootfs", default="", help="run from a directory instead of an image (as podman)")
    a("--help", action="help")
    a("image")
    a("command", nargs=REMAINDER)


def _env_files(paths: list[str]) -> list[str]:
    from pallet.errors import InvalidArgument

    out = []
    for p in paths:
        try:
            with open(p) as f:
                lines = f.read().splitlines()
        except OSError as exc:
            raise InvalidArgument(f"--env-file {p}: {exc.strerror}") from None
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                value = _env_value(line, f"--env-file {p}")
                if value is not None:
                    out.append(value)
    return out


def _env_value(e: str, flag: str = "-e") -> str | None:
    if not e or e.startswith("="):
        from pallet.errors import InvalidArgument

        raise InvalidArgument(f"invalid environment variable {e!r} for {flag}: expected NAME=VALUE or NAME")
    if "=" in e:
        return e
    value = os.environ.get(e)
    return None if value is None else f"{e}={value}"  # NAME unset here: unset in the container too, as Docker


def to_kwargs(ns, env) -> dict:
    """Parsed flags -> ContainerConfig fields; every bad value names its flag."""
    from pallet.engine import config as c
    from pallet.errors import InvalidArgument

    mounts = [c.parse_volume_flag(v) for v in ns.volume]
    mounts += [c.parse_mount_flag(v) for v in ns.mount]
    mounts += [c.parse_tmpfs_flag(v) for v in ns.tmpfs]
    seccomp, profile, nnp, sec_rest = "default", "", env.daemon.no_new_privileges, []
    for opt in ns.security_opt:
        key, sep, val = opt.partition("=")
        if not sep:
            key, sep, val = opt.partition(":")
        if key == "seccomp":
            if val == "unconfined":
                seccomp = "unconfined"
            else:
                try:
                    with open(val) as f:
                        profile = f.read()
                except OSError as exc:
                    raise InvalidArgument(f"--security-opt seccomp={val}: {exc.strerror}") from None
                seccomp = val
        elif opt in ("no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"):
            nnp = True
        elif opt in ("no-new-privileges=false", "no-new-privileges:false"):
            nnp = False
        elif key in ("label", "apparmor"):
            if key == "label" and val.partition(":")[0] not in _LABEL_KEYS:
                raise InvalidArgument(f"invalid --security-opt {opt!r}: label takes user:, role:, type:, level:, "
                                      "filetype:, disable or nested")
            sec_rest.append(opt)
            lsm = "SELinux" if key == "label" else "AppArmor"
            enabled = os.path.exists("/sys/fs/selinux/enforce" if key == "label" else "/sys/kernel/security/apparmor")
            sys.stderr.write(f"WARNING: --security-opt {opt}: "
                             f"{'pallet does not apply ' + lsm + ' options yet' if enabled else lsm + ' is not enabled on this host'}; ignored\n")
        else:
            raise InvalidArgument(f"invalid --security-opt {opt!r}: expected seccomp=FILE|unconfined, no-new-privileges, label=..., apparmor=...")
    res_kwargs = {}
    if ns.memory:
        res_kwargs["memory"] = c.parse_size(ns.memory, "--memory")
        if res_kwargs["memory"] < 6 << 20:
            raise InvalidArgument("--memory: minimum memory limit allowed is 6MB")
    if ns.memory_swap:
        res_kwargs["memory_swap"] = -1 if ns.memory_swap == "-1" else c.parse_size(ns.memory_swap, "--memory-swap")
    if ns.memory_reservation:
        res_kwargs["memory_reservation"] = c.parse_size(ns.memory_reservation, "--memory-reservation")
    if ns.memory_swappiness != -1:
        if not 0 <= ns.memory_swappiness <= 100:
            raise InvalidArgument("--memory-swappiness: must be between 0 and 100")
        res_kwargs["memory_swappiness"] = ns.memory_swappiness
    if ns.cpus:
        try:
            cpus = float(ns.cpus)
        except ValueError:
            raise InvalidArgument(f"invalid --cpus {ns.cpus!r}: expected a number") from None
        if not 0.01 <= cpus <= os.cpu_count():
            raise InvalidArgument(f"--cpus {ns.cpus}: range of CPUs is from 0.01 to {os.cpu_count()}.00, as there are only {os.cpu_count()} CPUs available")
        res_kwargs["nano_cpus"] = int(cpus * 1e9)
    if ns.pids_limit < -1:
        raise InvalidArgument("--pids-limit must be -1 (unlimited) or positive")
    cpu_shares = ns.cpu_shares
    if cpu_shares > 0 and not 2 <= cpu_shares <= 262144:  # the kernel's range; Docker adjusts and warns
        cpu_shares = min(max(cpu_shares, 2), 262144)
        sys.stderr.write(f"WARNING: changing requested --cpu-shares {ns.cpu_shares} to {cpu_shares}, "
                         "the nearest value the kernel allows\n")
    if ns.oom_kill_disable and not ns.memory:
        sys.stderr.write("WARNING: disabling the OOM killer without a --memory limit may hang the host when it runs out of memory\n")
    res = c.Resources(
        oom_kill_disable=ns.oom_kill_disable, cpu_shares=cpu_shares, cpu_quota=ns.cpu_quota,
        cpu_period=ns.cpu_period, cpuset_cpus=ns.cpuset_cpus, cpuset_mems=ns.cpuset_mems,
        pids_limit=ns.pids_limit, blkio_weight=ns.blkio_weight, **res_kwargs,
    )
    for mode_flag, value, allowed in (("--net", ns.network, ("", "none", "host", "bridge", "default")),
                                      ("--pid", ns.pid, ("", "host")), ("--ipc", ns.ipc, ("", "host", "shareable", "private", "none")),
                                      ("--uts", ns.uts, ("", "host"))):
        if value not in allowed and not (value.startswith("container:") and value[10:] and mode_flag != "--uts"):
            raise InvalidArgument(f"invalid {mode_flag} {value!r}: expected one of {', '.join(a for a in allowed if a)}"
                                  + (", container:NAME|ID" if mode_flag != "--uts" else ""))
    if ns.hostname and ns.network.startswith("container:"):
        raise InvalidArgument("conflicting options: --hostname and --net container:ID (the UTS namespace is that container's)")
    if ns.hostname and ns.uts == "host":
        raise InvalidArgument("conflicting options: --hostname and --uts host")
    if ns.workdir and not ns.workdir.startswith("/"):
        raise InvalidArgument(f"invalid --workdir {ns.workdir!r}: the working directory must be an absolute path")
    if ns.stop_signal:
        from pallet.runtime.signals import parse as parse_signal

        try:
            parse_signal(ns.stop_signal)
        except InvalidArgument:
            raise InvalidArgument(f"invalid --stop-signal {ns.stop_signal!r}: not a signal name or number") from None
    net = ns.network or "none"
    if net in ("bridge", "default"):
        net = "none"
        sys.stderr.write("WARNING: bridge networking is not available yet: using --net none\n")
    log_max_size, log_max_file = env.daemon.log_max_size, env.daemon.log_max_file
    for lo in ns.log_opt:
        k, _, v = lo.partition("=")
        if k == "max-size":
            log_max_size = c.parse_size(v, "--log-opt max-size")
        elif k == "max-file":
            try:
                log_max_file = int(v)
            except ValueError:
                raise InvalidArgument("--log-opt max-file must be an integer") from None
        else:
            raise InvalidArgument(f"unknown --log-opt {k!r}: json-file takes max-size and max-file")
    storage_size = 0
    for so in ns.storage_opt:
        if not so.startswith("size="):
            raise InvalidArgument(f"unknown --storage-opt {so!r}: only size= is supported")
        storage_size = c.parse_size(so[5:], "--storage-opt size")
        if storage_size <= 0:
            raise InvalidArgument(f"invalid --storage-opt {so!r}: the size must be positive")
        if ns.rootfs:
            raise InvalidArgument("--storage-opt size= limits an image's writable layer: --rootfs has none")
    sysctls = []
    for s in ns.sysctl:
        k, eq, v = s.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid --sysctl {s!r}: expected NAME=VALUE")
        sysctls.append((k, v))
    labels = []
    for lab in ns.label:
        k, _, v = lab.partition("=")
        labels.append((k, v))
    restart = c.parse_restart(ns.restart)
    if restart.max_retries < 0:
        raise InvalidArgument(f"invalid restart policy {ns.restart!r}: the retry count can't be negative")
    if restart.name != "no" and ns.rm:
        raise InvalidArgument("conflicting options: --restart and --rm")
    _warn_missing_caps(ns.cap_add, ns.privileged)
    kwargs = dict(
        name=ns.name, image=ns.image, rootfs_dir=ns.rootfs,
        cmd=tuple(ns.command), env=tuple(_env_files(ns.env_file) + [v for v in map(_env_value, ns.env) if v is not None]),
        workdir=ns.workdir, user=ns.user, group_add=tuple(ns.group_add), hostname=ns.hostname,
        labels=tuple(labels), mounts=tuple(mounts), read_only=ns.read_only, privileged=ns.privileged,
        cap_add=tuple(ns.cap_add), cap_drop=tuple(ns.cap_drop), seccomp=seccomp, seccomp_profile=profile,
        no_new_privileges=nnp, security_opt=tuple(ns.security_opt), resources=res,
        ulimits=tuple(c.parse_ulimit(u) for u in ns.ulimit), sysctls=tuple(sysctls), devices=_devices(ns.device),
        device_cgroup_rules=_cgroup_rules(ns.device_cgroup_rule),
        shm_size=(c.parse_size(ns.shm_size, "--shm-size") if ns.shm_size else 0) or env.daemon.default_shm_size,  # 0: the default, as Docker
        network_mode=net, pid_mode=ns.pid, ipc_mode=ns.ipc, uts_mode=ns.uts, tty=ns.tty,
        interactive=ns.interactive, stdin_once=ns.interactive and not ns.detach, auto_remove=ns.rm, restart=restart,
        stop_signal=ns.stop_signal or "SIGTERM", stop_timeout=10 if ns.stop_timeout is None else ns.stop_timeout,
        init=ns.init or env.daemon.init, runtime=ns.runtime, storage_size=storage_size, log_max_size=log_max_size, log_max_file=log_max_file,
        log_driver=env.daemon.log_driver, entrypoint_set=ns.entrypoint is not None,
    )
    if ns.entrypoint is not None:
        kwargs["entrypoint"] = (ns.entrypoint,) if ns.entrypoint else ()
    return kwargs


_LABEL_KEYS = ("user", "role", "type", "level", "filetype", "disable", "nested")


def _warn_missing_caps(cap_add: list[str], privileged: bool) -> None:
    """A capability this host's bounding set lacks can't be granted: say so instead of dropping it silently."""
    if not cap_add or privileged:
        return
    from pallet.engine.spec_builder import normalize_cap
    from pallet.engine.spec_plan import bounding_caps

    have = bounding_caps()
    if have is None:
        return
    for name in cap_add:
        cap = normalize_cap(name)
        if cap != "ALL" and cap not in have:
            sys.stderr.write(f"WARNING: --cap-add {name}: this host's bounding set lacks {cap}; the container won't have it\n")


def _devices(values: list[str]) -> tuple[str, ...]:
    if not values:  # the common case costs no import
        return ()
    from pallet.engine.devices import parse_device

    return tuple(f"{d.host}:{d.container}:{d.perms}" for d in map(parse_device, values))


def _cgroup_rules(values: list[str]) -> tuple[str, ...]:
    if not values:
        return ()
    from pallet.engine.devices import parse_cgroup_rule

    for v in values:
        parse_cgroup_rule(v)
    return tuple(v.strip() for v in values)


def _parse(p, argv: list[str]):
    """`--rootfs DIR` takes the IMAGE slot (as podman): everything after DIR is the command."""
    for i, a in enumerate(argv):
        if a == "--":
            break
        if a == "--rootfs" or a.startswith("--rootfs="):
            cut = i + 2 if a == "--rootfs" else i + 1
            ns = p.parse_args(argv[:cut] + ["_"])
            ns.image, ns.command = "", argv[cut:]
            return ns
    return p.parse_args(argv)


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    p = parser(verb, add_help=False)  # -h is --hostname, as Docker
    _add_flags(p)
    try:
        ns = _parse(p, argv)
        if verb == "run" and ns.tty and ns.interactive and not ns.detach and not os.isatty(0):
            sys.stderr.write("Error: the input device is not a TTY: drop -t, or use run -d -t\n")
            return 1
        keys = b""
        if ns.detach_keys is not None or (ns.tty and ns.interactive):  # -it: detachable, as Docker
            from pallet.engine.attach import DEFAULT_DETACH_KEYS, parse_detach_keys

            keys = parse_detach_keys(ns.detach_keys or DEFAULT_DETACH_KEYS)
        from pallet.cli.ctrcommon import open_env
        from pallet.engine import containers

        env = open_env(opts)
        st = containers.create(env, to_kwargs(ns, env))
    except PalletError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 125
    if verb == "create":
        print(st.id)
        return 0
    from pallet.engine import lifecycle

    if ns.detach:
        try:
            lifecycle.start(env, st.id)
        except lifecycle.StartError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            _remove_if_rm(env, st)
            return exc.exit_code
        except PalletError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            _remove_if_rm(env, st)
            return 125
        print(st.id)
        return 0
    try:
        return lifecycle.run_foreground(env, st, stdin_fd=0 if ns.interactive else None, detach_keys=keys)
    except lifecycle.StartError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code
    except PalletError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        _remove_if_rm(env, st)
        return 125


def _remove_if_rm(env, st) -> None:
    if st.config.auto_remove:
        from pallet.engine import containers

        try:
            containers.remove(env, st.id, force=True, volumes=True, resolved=True)
        except PalletError:
            pass
