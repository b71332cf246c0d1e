"""`pallet debug ...`: read-only node diagnostics for any runtime's containers.

    pallet debug whois PID...            which container/pod a process belongs to
    pallet debug usage PID|CONTAINER     memory (Docker's accounting) and CPU % over --interval
    pallet debug swap [--top N]          swap by process, container and pod
    pallet debug ns [-t TYPE] [PID]      namespaces with their owner (lsns)
    pallet debug enter PID|CONTAINER [-n -m -u -i -p -U -C] -- CMD...
    pallet debug caps PID|HEX...         capability sets by name, vs Docker's default
    pallet debug cgroups [--tree] [PID|CONTAINER]
    pallet debug fs-usage                writable layer sizes and their filesystems

`--state-root DIR` reads the runtimes' state under DIR instead of / (tests
lay out a fake node there); `--proc DIR` reads another /proc tree.
Docker's and containerd's defaults (/var/lib/docker, /var/lib/containerd,
/run/containerd) are read first, then the dirs the running dockerd and
containerd processes name (`--data-root`, daemon.json, config.toml);
`--docker-root`, `--containerd-root` and `--containerd-state` (or
$PALLET_DEBUG_DOCKER_ROOT, ...) name them instead, e.g. for a stopped daemon.
"""

from __future__ import annotations

import argparse
import os
import sys

from pallet.cli.argparser import ArgumentParser
from pallet.cli.common import GlobalOptions


def _duration(text: str) -> float:
    # Go-style durations as Docker takes them: 10s, 500ms, 1m, or plain seconds
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    for suffix, scale in units:
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(text[: -len(suffix)]) * scale
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 10s, 500ms)") from None


def _parser(enter_remainder: bool = True) -> argparse.ArgumentParser:
    p = ArgumentParser(prog="pallet debug", description="Read-only diagnostics of the node's containers.")
    p.add_argument("--state-root", default="/", help="prefix of the runtimes' state dirs (default /)")
    p.add_argument("--proc", default="/proc", help="the /proc tree to read")
    env = os.environ.get
    p.add_argument("--docker-root", default=env("PALLET_DEBUG_DOCKER_ROOT", ""), metavar="DIR",
                   help="dockerd's --data-root (default /var/lib/docker and running dockerds')")
    p.add_argument("--containerd-root", default=env("PALLET_DEBUG_CONTAINERD_ROOT", ""), metavar="DIR",
                   help="containerd's root (default /var/lib/containerd and running containerds')")
    p.add_argument("--containerd-state", default=env("PALLET_DEBUG_CONTAINERD_STATE", ""), metavar="DIR",
                   help="containerd's state (default /run/containerd and running containerds')")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("whois", help="which container and pod a PID belongs to")
    s.add_argument("pids", nargs="+", type=int, metavar="PID")
    s.add_argument("--format", "-f", help="Go template, e.g. '{{.PodNamespace}}/{{.PodName}}'")
    s.add_argument("--json", action="store_true")
    s.add_argument("--no-hostname", action="store_true", help="skip entering the UTS namespace")

    s = sub.add_parser("usage", help="memory and CPU of a PID's container")
    s.add_argument("target", metavar="PID|CONTAINER")
    s.add_argument("--interval", type=_duration, default=10.0, help="CPU sampling interval (default 10s)")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("swap", help="swap users by process, container and pod")
    s.add_argument("--top", type=int, default=20)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("ns", help="namespaces with their owning container (lsns)")
    s.add_argument("-t", "--type", action="append", choices=["mnt", "net", "pid", "uts", "ipc", "user", "cgroup", "time"])
    s.add_argument("pid", nargs="?", type=int)
    s.add_argument("--format", "-f")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("enter", help="run a host command in a process's namespaces (nsenter)")
    s.add_argument("-t", "--target", dest="target_flag", metavar="PID|CONTAINER")
    s.add_argument("target", nargs="?", metavar="PID|CONTAINER")
    for short, long, ns in (("-n", "--net", "net"), ("-m", "--mount", "mnt"), ("-u", "--uts", "uts"),
                            ("-i", "--ipc", "ipc"), ("-p", "--pid", "pid"), ("-U", "--user", "user"),
                            ("-C", "--cgroup", "cgroup"), ("-T", "--time", "time")):
        s.add_argument(short, long, dest="ns", action="append_const", const=ns)
    s.add_argument("-a", "--all", action="store_true", help="every namespace, the mount namespace too")
    if enter_remainder:
        # only without "--": argparse's REMAINDER would swallow flags after the target
        s.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD")

    s = sub.add_parser("caps", help="decode capability sets of a PID or a hex mask")
    s.add_argument("subjects", nargs="+", metavar="PID|HEX")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("cgroups", help="cgroup mode, hierarchies and tree")
    s.add_argument("--tree", action="store_true")
    s.add_argument("--controller", "-c", help="hierarchy for --tree (default memory, or unified on v2)")
    s.add_argument("--depth", type=int)
    s.add_argument("target", nargs="?", metavar="PID|CONTAINER")
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("fs-usage", help="writable layer size per container")
    s.add_argument("--json", action="store_true")
    return p


class _Context:
    """What every sub-command needs, built lazily (most read only a part)."""

    def __init__(self, opts: GlobalOptions, args) -> None:
        from pallet.debug.paths import HostPaths

        self.paths = HostPaths(root=args.state_root, proc=args.proc, pallet_root=opts.root,
                               pallet_runroot=opts.runroot, docker_data_root=args.docker_root,
                               containerd_root=args.containerd_root, containerd_state=args.containerd_state)
        self._catalog = self._attributor = None

    @property
    def catalog(self):
        if self._catalog is None:
            from pallet.debug.catalog import Catalog

            self._catalog = Catalog(self.paths)
        return self._catalog

    @property
    def attributor(self):
        if self._attributor is None:
            from pallet.debug.attribution import Attributor

            self._attributor = Attributor(self.catalog)
        return self._attributor

    def resolve_pid(self, target: str) -> int:
        """A PID as is; a container name or id -> its init PID."""
        from pallet.errors import WrongState

        if target.isdigit():
            return int(target)
        record = self.catalog.find(target)
        if not record.pid:
            raise WrongState(f"container {target} ({record.runtime}) has no running process")
        return record.pid


def _format_rows(template: str, rows: list[dict]) -> str:
    """--format through the shared Go-template engine ("table ..." and "json" included)."""
    from pallet.debug.render import format_rows, go_keys

    try:
        from pallet.cli.gotemplate import format_rows as go_format_rows
    except ImportError:  # keep debug usable if the template package is broken or absent
        return format_rows(template, rows)
    return go_format_rows(template, [go_keys(r) for r in rows], template)


def _out(text: str) -> None:
    sys.stdout.write(text)


def cmd_whois(ctx: _Context, args) -> int:
    from pallet.debug.render import to_json
    from pallet.debug.whois import whois
    from pallet.errors import NotFound

    results, code = [], 0
    for pid in args.pids:
        try:
            results.append(whois(pid, ctx.attributor, with_hostname=not args.no_hostname))
        except NotFound as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = 1
    if args.json:
        _out(to_json([r.as_dict() for r in results]) + "\n")
    elif args.format:
        _out(_format_rows(args.format, [r.as_dict() for r in results]))
    else:
        for r in results:
            _out(_whois_text(r))
    return code


def _whois_text(r) -> str:
    lines = [f"PID {r.pid}: {r.command}"]
    if r.host:
        lines.append("  host process (no container owns it)")
    else:
        lines.append(f"  runtime:    {r.runtime}")
        lines.append(f"  container:  {r.container_id}" + (f" ({r.name})" if r.name else ""))
        if r.role in ("conmon", "shim"):
            what = "conmon" if r.role == "conmon" else "containerd shim"
            lines.append(f"  role:       {what} (the runtime's monitor, not the workload)")
        if r.kind:
            lines.append(f"  kind:       {r.kind}")
        if r.image:
            lines.append(f"  image:      {r.image}")
        if r.pod_name or r.pod_uid:
            pod = f"{r.pod_namespace}/{r.pod_name}" if r.pod_name else "(name unknown)"
            lines.append(f"  pod:        {pod}" + (f" uid={r.pod_uid}" if r.pod_uid else "")
                         + (f" qos={r.qos}" if r.qos else ""))
    if r.hostname:
        lines.append(f"  hostname:   {r.hostname} (from {r.hostname_source})")
    lines.append(f"  cgroup:     {r.cgroup or '?'}" + (f" ({r.cgroup_driver} driver)" if r.cgroup_driver else ""))
    if r.state_file:
        lines.append(f"  state:      {r.state_file}")
    lines.extend(f"  note:       {n}" for n in r.notes)
    return "\n".join(lines) + "\n"


def cmd_usage(ctx: _Context, args) -> int:
    from pallet.debug.render import human_bytes, to_json
    from pallet.debug.usage import usage

    pid = ctx.resolve_pid(args.target)
    a = ctx.attributor.of_pid(pid)
    u = usage(pid, args.interval, ctx.paths.proc)
    m = u.memory
    if args.json:
        doc = {"pid": pid, "container": a.label(), "cpu_percent": u.cpu_percent, "interval": u.interval,
               "host_memory": u.host_memory,
               "memory": None if m is None else {
                   "usage": m.usage, "raw_usage": m.raw_usage, "inactive_file": m.inactive_file,
                   "limit": m.limit, "swap": m.swap, "cgroup": m.cgroup_dir, "version": m.version}}
        _out(to_json(doc) + "\n")
        return 0
    _out(f"PID {pid}: {a.label()}\n")
    if m is None:
        _out("  memory: no memory cgroup found\n")
    else:
        limit = human_bytes(m.limit) if m.limit is not None else "unlimited"
        pct = f" ({100.0 * m.usage / m.limit:.1f}%)" if m.limit else ""
        if m.limit is None and u.host_memory:
            # docker stats shows an unlimited container against the host's memory
            limit += f" (host {human_bytes(u.host_memory)}, {100.0 * m.usage / u.host_memory:.2f}%)"
        _out(f"  memory: {human_bytes(m.usage)} / {limit}{pct}  "
             f"[usage {human_bytes(m.raw_usage)} - inactive file {human_bytes(m.inactive_file)}]\n")
        if m.swap is not None:
            _out(f"  swap:   {human_bytes(m.swap)}\n")
        _out(f"  cgroup: {m.cgroup_dir} ({m.version})\n")
    if u.cpu_percent is None:
        _out("  cpu:    not sampled (--interval 0)\n" if u.cpu_dir and u.interval <= 0
             else "  cpu:    unknown (no cpu accounting cgroup)\n")
    else:
        _out(f"  cpu:    {u.cpu_percent:.1f}% over {u.interval:g}s (100% = one CPU, {u.online_cpus} online)\n")
    return 0


def cmd_swap(ctx: _Context, args) -> int:
    from pallet.debug.render import human_bytes, table, to_json
    from pallet.debug.swap import report

    r = report(ctx.attributor, args.top)
    if args.json:
        _out(to_json({
            "total": r.total,
            "processes": [p.__dict__ for p in r.processes],
            "containers": [g.__dict__ for g in r.containers],
            "pods": [g.__dict__ for g in r.pods],
        }) + "\n")
        return 0
    _out(f"swap in use by processes: {human_bytes(r.total)}\n\nTop processes:\n")
    _out(table(["PID", "SWAP", "NAME", "OWNER"], [[p.pid, human_bytes(p.swap), p.command, p.owner] for p in r.processes],
               right=frozenset({0, 1})))
    _out("\nContainers:\n")
    _out(table(["CONTAINER", "SWAP", "PROCS", "CGROUP SWAP"],
               [[g.key, human_bytes(g.swap), g.nprocs, human_bytes(g.cgroup_swap)] for g in r.containers],
               right=frozenset({1, 2, 3})))
    _out("\nPods:\n")
    _out(table(["POD", "SWAP", "PROCS"], [[g.key, human_bytes(g.swap), g.nprocs] for g in r.pods],
               right=frozenset({1, 2})))
    if r.unreadable:
        _out(f"\n({r.unreadable} processes could not be read)\n")
    return 0


def cmd_ns(ctx: _Context, args) -> int:
    from pallet.debug.namespaces import LSNS_ORDER, namespaces
    from pallet.debug.render import table, to_json

    types = tuple(t for t in LSNS_ORDER if not args.type or t in args.type)
    rows, unreadable = namespaces(ctx.attributor, types=types, pid=args.pid)
    dicts = [n.__dict__ for n in rows]
    if args.json:
        _out(to_json(dicts) + "\n")
    elif args.format:
        _out(_format_rows(args.format, dicts))
    else:
        _out(table(["NS", "TYPE", "NPROCS", "PID", "OWNER", "COMMAND"],
                   [[n.inode, n.type, n.nprocs, n.pid, n.owner, n.command[:60]] for n in rows],
                   right=frozenset({0, 2, 3})))
        if unreadable:
            _out(f"({unreadable} processes' namespaces could not be read)\n")
    return 0


def cmd_enter(ctx: _Context, args) -> int:
    from pallet.debug import enter
    from pallet.errors import InvalidArgument

    cmd = list(args.cmd)
    target = args.target_flag or args.target
    if args.target_flag and args.target:
        cmd.insert(0, args.target)   # `-t PID ip a`: the positional was the command
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not target:
        raise InvalidArgument("enter: which process? (enter PID|CONTAINER -- CMD...)")
    requested = frozenset(enter.ENTER_ORDER) if args.all else (frozenset(args.ns) if args.ns else None)
    p = enter.plan(ctx.resolve_pid(target), cmd, requested, ctx.paths.proc)
    return enter.run(p, ctx.paths.proc)


def cmd_caps(ctx: _Context, args) -> int:
    from pallet.debug.caps import of_argument
    from pallet.debug.render import to_json

    reports = [of_argument(s, ctx.paths.proc) for s in args.subjects]
    if args.json:
        _out(to_json([{"subject": r.subject, "sets": [
            {"field": s.field, "mask": f"{s.mask:016x}", "names": list(s.names),
             "added": list(s.added), "dropped": list(s.dropped)} for s in r.sets]} for r in reports]) + "\n")
        return 0
    for r in reports:
        _out(f"{r.subject}:\n")
        for s in r.sets:
            names = "(all)" if s.full else (",".join(s.names) or "(none)")
            _out(f"  {s.field}: {s.mask:016x}  {names}\n")
        eff = next((s for s in r.sets if s.field in ("CapEff", "mask")), None)
        if eff is not None:
            _out(f"  vs Docker's default set: added {','.join(eff.added) or '(none)'}; "
                 f"dropped {','.join(eff.dropped) or '(none)'}\n")
    return 0


def cmd_cgroups(ctx: _Context, args) -> int:
    from pallet.debug import cgroupview
    from pallet.debug.render import table, to_json
    from pallet.errors import NotFound

    hs = cgroupview.hierarchies(ctx.paths.proc)
    mode = cgroupview.mode(ctx.paths.cgroupfs)
    start, mountpoint, nodes = "/", "", []
    if args.tree or args.target:
        h = cgroupview.find_hierarchy(hs, args.controller)
        if h is None:
            raise NotFound(f"no cgroup hierarchy for {args.controller or 'the default controller'}")
        mountpoint = h.mountpoint
        if args.target:
            from pallet.debug import procfs

            pid = ctx.resolve_pid(args.target)
            lines = procfs.cgroups(pid, ctx.paths.proc)
            if h.version == "v2":
                line = next((ln for ln in lines if ln.hierarchy_id == 0), None)
            else:
                line = next((ln for ln in lines if set(ln.controllers) & set(h.controllers)), None)
            start = line.path if line else "/"
        nodes = cgroupview.tree(mountpoint, start, ctx.attributor, args.depth)
    if args.json:
        _out(to_json({"mode": mode, "hierarchies": [h.__dict__ for h in hs],
                      "tree": {"mountpoint": mountpoint, "nodes": [n.__dict__ for n in nodes]} if nodes else None})
             + "\n")
        return 0
    _out(f"cgroup mode: {mode}\n\n")
    _out(table(["CONTROLLERS", "MOUNT", "VERSION"],
               [[",".join(h.controllers) or "-", h.mountpoint, h.version] for h in hs]))
    if nodes:
        _out(f"\n{mountpoint}:\n")
        for n in nodes:
            name = n.path if n.depth == 0 else n.path.rsplit("/", 1)[-1]
            extra = f"  [{n.owner}]" if n.owner else ""
            _out(f"{'  ' * n.depth}{name}  ({n.nprocs} procs){extra}\n")
    return 0


def cmd_fs_usage(ctx: _Context, args) -> int:
    from pallet.debug.fsusage import usage
    from pallet.debug.render import human_bytes, table, to_json

    rows, problems = usage(ctx.catalog)
    if not rows and not args.json:
        _out(f"no containers in the state of {', '.join(ctx.catalog.runtimes)} under {ctx.paths.root}\n")
        for p in problems:
            _out(f"note: {p}\n")
        return 0
    if args.json:
        _out(to_json({"containers": [u.__dict__ for u in rows], "problems": problems}) + "\n")
        return 0
    # SIZE is disk blocks (du); APPARENT is file lengths, what `docker ps -s` calls SIZE
    _out(table(["RUNTIME", "CONTAINER", "NAME", "SIZE", "APPARENT", "FILES", "FS", "DEVICE", "FS USED", "UPPER DIR"],
               [[u.runtime, u.container_id[:12], u.name or "-", human_bytes(u.size), human_bytes(u.apparent_size),
                 u.files if u.size is not None else "-", u.fs_type or "-", u.fs_source or "-",
                 f"{u.fs_used_percent:.0f}%" if u.fs_used_percent is not None else "-",
                 u.upper_dir or "(writable layer not found)"] for u in rows],
               right=frozenset({3, 4, 5, 8})))
    for p in problems:
        _out(f"note: {p}\n")
    return 0


COMMANDS = {
    "whois": cmd_whois, "usage": cmd_usage, "swap": cmd_swap, "ns": cmd_ns, "enter": cmd_enter,
    "caps": cmd_caps, "cgroups": cmd_cgroups, "fs-usage": cmd_fs_usage,
}


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    # `enter ... -- CMD`: split at "--" before argparse, so flags after the
    # target (`enter web -u -- hostname`) are still ours and CMD is untouched.
    command: list[str] | None = None
    if "enter" in argv and "--" in argv[argv.index("enter"):]:
        cut = argv.index("--", argv.index("enter"))
        argv, command = argv[:cut], argv[cut + 1:]
    args = _parser(enter_remainder=command is None).parse_args(argv)
    if command is not None:
        args.cmd = command
    return COMMANDS[args.command](_Context(opts, args), args)
