"""Container verbs: start stop kill rm ps logs inspect exec wait pause unpause restart rename top port,
and the `container` group (`container ls`, `container cleanup ID` — the monitor's exit command)."""

from __future__ import annotations

import os
import sys

from pallet.cli.common import GlobalOptions
from pallet.cli.ctrcommon import each, inspect_each, open_env, parser, print_table, run_verb
from pallet.errors import PalletError

PS_COLUMNS = [("ID", "CONTAINER ID"), ("Image", "IMAGE"), ("Command", "COMMAND"), ("RunningFor", "CREATED"),
              ("Status", "STATUS"), ("Ports", "PORTS"), ("Names", "NAMES")]


def cmd_start(opts, argv):
    p = parser("start")
    p.add_argument("-a", "--attach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import lifecycle

    env = open_env(opts)
    if ns.attach:
        from pallet.engine import attach, containers

        st = containers.get(env, ns.containers[0])
        # From where this run starts: nothing the container prints early is lost.
        path = env.log_path(st.id)
        offset = os.path.getsize(path) if os.path.exists(path) else 0
        if ns.interactive or st.config.tty:
            # as `attach`: our input, and with -t the pty sized like our terminal (again on SIGWINCH); the
            # monitor holds the output until we are there
            st = lifecycle.start(env, st.id, hold_output=True)
            return attach.attach(env, st.id, stdin=ns.interactive, log_offset=offset)
        lifecycle.start(env, st.id)
        return attach.follow_log(env, st.id, offset)
    return each(ns.containers, lambda r: lifecycle.start(env, r))


def cmd_stop(opts, argv):
    p = parser("stop")
    p.add_argument("-t", "--time", "--timeout", dest="time", type=int, default=None)
    p.add_argument("-s", "--signal", default=None)
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    if not _valid_signal(ns.signal):
        return 125
    from pallet.engine import lifecycle

    env = open_env(opts)
    return each(ns.containers, lambda r: lifecycle.stop(env, r, ns.time, ns.signal))


def cmd_restart(opts, argv):
    p = parser("restart")
    p.add_argument("-t", "--time", "--timeout", dest="time", type=int, default=None)
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import lifecycle

    env = open_env(opts)
    return each(ns.containers, lambda r: lifecycle.restart(env, r, ns.time))


def cmd_kill(opts, argv):
    p = parser("kill")
    p.add_argument("-s", "--signal", default="SIGKILL")
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    if not _valid_signal(ns.signal):
        return 125
    from pallet.engine import lifecycle

    env = open_env(opts)
    return each(ns.containers, lambda r: lifecycle.kill(env, r, ns.signal))


def _valid_signal(value: str | None) -> bool:
    """A bad -s is one line before any container is touched (the runtime would name the container, per one)."""
    if value is None:
        return True
    from pallet.runtime.signals import parse

    try:
        parse(value)
    except PalletError:
        sys.stderr.write(f"Error: invalid signal: {value}\n")
        return False
    return True


def cmd_pause(opts, argv, verb="pause"):
    p = parser(verb)
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import lifecycle

    env = open_env(opts)
    fn = lifecycle.pause if verb == "pause" else lifecycle.unpause
    return each(ns.containers, lambda r: fn(env, r))


def cmd_rm(opts, argv):
    p = parser("rm")
    p.add_argument("-f", "--force", action="store_true")
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import containers

    env = open_env(opts)
    return each(ns.containers, lambda r: containers.remove(env, r, force=ns.force, volumes=ns.volumes))


def cmd_rename(opts, argv):
    p = parser("rename")
    p.add_argument("container")
    p.add_argument("new_name")
    ns = p.parse_args(argv)
    from pallet.engine import containers
    from pallet.errors import Conflict

    env = open_env(opts)
    st = containers.get(env, ns.container)
    if ns.new_name.removeprefix("/") == st.name:  # Docker's refusal: nothing would change
        raise Conflict(f"container {st.name}: renaming a container with the same name as its current name")
    containers.rename(env, st.id, ns.new_name)
    return 0


def cmd_wait(opts, argv):
    p = parser("wait")
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import lifecycle

    env = open_env(opts)
    return each(ns.containers, lambda r: lifecycle.wait(env, r), show=lambda _ref, code: code)


PS_FILTERS = ("id", "name", "status", "label", "ancestor", "exited", "before", "since", "volume")


def _filters(values: list[str]) -> list[tuple[str, str]]:
    if not values:
        return []
    from pallet.engine.filters import parse_filters

    return [(k, v) for k, vs in parse_filters(values, PS_FILTERS).items() for v in vs]


def _matches(st, filters) -> bool:
    by_key: dict[str, list[bool]] = {}
    for k, v in filters:
        if k == "id":
            ok = st.id.startswith(v)
        elif k == "name":
            ok = v in st.name
        elif k == "status":
            ok = st.status == v or (v == "exited" and st.status == "exited")
        elif k == "label":
            lk, eq, lv = v.partition("=")
            labels = dict(st.config.labels)
            ok = lk in labels and (not eq or labels[lk] == lv)
        elif k == "ancestor":
            ok = st.config.image == v or st.config.image_id.startswith(v) or st.config.image.split(":")[0] == v
        elif k == "exited":
            ok = st.status == "exited" and str(st.row.exit_code) == v
        elif k == "volume":
            ok = any(m.source == v or m.destination == v for m in st.config.mounts)
        else:
            ok = True
        by_key.setdefault(k, []).append(ok)
    return all(any(v) for v in by_key.values())


def cmd_ps(opts, argv):
    p = parser("ps")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("-n", "--last", type=int, default=-1)
    p.add_argument("-l", "--latest", action="store_true")
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("--format", default="")
    p.add_argument("--no-trunc", action="store_true")
    ns = p.parse_args(argv)
    from pallet.engine import containers
    from pallet.engine.inspect import ps_row

    env = open_env(opts)
    filters = _filters(ns.filter)
    states = containers.list_states(env)
    if not ns.all and ns.last < 0 and not ns.latest and not any(k == "status" for k, _ in filters):
        states = [s for s in states if s.status in ("running", "paused")]
    states = [s for s in states if _matches(s, filters)]
    if ns.latest:
        states = states[:1]
    if ns.last >= 0:
        states = states[: ns.last]
    if ns.quiet:
        for s in states:
            print(s.id if ns.no_trunc else s.id[:12])
        return 0
    rows = []
    for s in states:
        size = ""
        if ns.size or "{{.Size}}" in ns.format:
            from pallet.engine import usage
            from pallet.engine.units import human_size

            rw, virt = usage.container_size(env, s)
            size = f"{human_size(rw, 3)} (virtual {human_size(virt, 3)})"
        rows.append(ps_row(env, s, no_trunc=ns.no_trunc, size=size))
    cols = PS_COLUMNS + ([("Size", "SIZE")] if ns.size else [])
    print_table(rows, cols, ns.format)
    return 0


def cmd_inspect(opts, argv):
    p = parser("inspect")
    p.add_argument("-f", "--format", default="")
    p.add_argument("-s", "--size", action="store_true")
    p.add_argument("--type", default="")
    p.add_argument("objects", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import containers
    from pallet.engine.inspect import inspect
    from pallet.errors import NotFound

    env = open_env(opts)

    def one(ref: str) -> dict:
        if ns.type == "volume":
            from pallet.engine import volumes

            return volumes.inspect(env, volumes.get(env, ref))
        try:
            st = containers.get(env, ref)
        except NotFound:  # only then an image, as Docker: an ambiguous container prefix is an error of its own
            img = _inspect_image(opts, ref) if ns.type in ("", "image") else None
            if img is None:
                raise
            return img
        data = inspect(env, st)
        if ns.size:
            from pallet.engine import usage

            data["SizeRw"], data["SizeRootFs"] = usage.container_size(env, st)
        return data

    return inspect_each(ns.objects, one, ns.format)


def _inspect_image(opts, ref):
    """`pallet inspect REF` falls back to an image, as `docker inspect` does; None if there is none."""
    from pallet.engine import images
    from pallet.engine.context import EngineContext

    try:
        with EngineContext.from_options(opts) as ctx:
            return images.inspect(ctx, ref)
    except PalletError:
        return None


def cmd_logs(opts, argv):
    p = parser("logs")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("--since", default="")
    p.add_argument("--until", default="")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--details", action="store_true")
    p.add_argument("container")
    ns = p.parse_args(argv)
    from pallet.engine import containers, logs
    from pallet.errors import InvalidArgument

    env = open_env(opts)
    st = containers.get(env, ns.container)
    if st.config.log_driver == "none":
        raise InvalidArgument(f"container {st.name}: configured logging driver \"none\" does not support reading")
    try:
        tail = -1 if ns.tail == "all" else int(ns.tail)
    except ValueError:
        raise InvalidArgument(f"invalid --tail {ns.tail!r}: expected a number or all") from None
    since = logs.parse_time(ns.since, "--since") if ns.since else ""
    until = logs.parse_time(ns.until, "--until") if ns.until else ""
    path = env.log_path(st.id)
    out, err = sys.stdout.buffer, sys.stderr.buffer

    last = [out]

    def emit(e):
        text = (e.time + " " if ns.timestamps else "") + e.text
        stream = err if e.stream == "stderr" else out
        if stream is not last[0]:  # keep the container's order where both end up on one terminal
            last[0].flush()
            last[0] = stream
        stream.write(text.encode())

    mark = logs.open_live(path)  # read up to here, follow from here: each line once
    for e in logs.read(path, tail=tail, since=since, until=until, live=mark):
        emit(e)
    out.flush()
    err.flush()
    if ns.follow:
        def running():
            row = containers.table.get(env.db, st.id)
            if row is None:
                return False
            containers.sync_one(env, st.id, row)
            row = containers.table.get(env.db, st.id)
            return row is not None and row.status in ("running", "paused")

        for e in logs.follow(path, running, start_offset=0 if mark is None else None, live=mark):
            emit(e)
            out.flush()
            err.flush()
    elif mark is not None:
        os.close(mark[0])
    return 0


def cmd_exec(opts, argv):
    import argparse

    p = parser("exec")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-u", "--user", default="")
    p.add_argument("-w", "--workdir", default="")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)
    ns = p.parse_args(argv)
    from pallet.engine import execs
    from pallet.engine.lifecycle import StartError
    from pallet.errors import InvalidArgument

    if not ns.command:
        raise InvalidArgument("exec: no command given")
    env = open_env(opts)
    try:
        return execs.exec_in(env, ns.container, ns.command, detach=ns.detach, tty=ns.tty, interactive=ns.interactive,
                             env_vars=_exec_env(ns.env),
                             user=ns.user, workdir=ns.workdir, privileged=ns.privileged)
    except StartError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return exc.exit_code


def _exec_env(values: list[str]) -> list[str]:
    """-e NAME=VALUE as is; -e NAME takes our value, and stays unset when we have none (Docker's docs)."""
    from pallet.errors import InvalidArgument

    out = []
    for e in values:
        name, eq, _ = e.partition("=")
        if not name:
            raise InvalidArgument(f"invalid environment variable {e!r} for -e: expected NAME=VALUE or NAME")
        if eq:
            out.append(e)
        elif name in os.environ:
            out.append(f"{name}={os.environ[name]}")
    return out


def cmd_top(opts, argv):
    p = parser("top")
    p.add_argument("container")
    p.add_argument("ps_args", nargs="...")  # Docker's `top CONTAINER [ps OPTIONS]`: the rest goes to ps
    ns = p.parse_args(argv)
    from pallet.engine.top import top

    titles, rows = top(open_env(opts), ns.container, ns.ps_args)
    # docker top's tabwriter: columns at least 20 wide, 3 spaces of padding, the last one unpadded
    widths = [max(20, max([len(t)] + [len(r[i]) for r in rows if i < len(r)]) + 3) for i, t in enumerate(titles)]
    for line in [titles] + rows:
        print("".join(c.ljust(w) for c, w in zip(line[:-1], widths)) + line[-1])
    return 0


def cmd_port(opts, argv):
    p = parser("port")
    p.add_argument("container")
    p.add_argument("port", nargs="?")
    ns = p.parse_args(argv)
    from pallet.engine import containers
    from pallet.errors import InvalidArgument, NotFound

    containers.get(open_env(opts), ns.container)
    # No container publishes a port until bridge networking exists: Docker prints nothing for such a
    # container, and names the port a PORT argument asked for.
    if ns.port:
        num, _, proto = ns.port.partition("/")
        if not num.isdigit() or not 0 < int(num) < 65536 or proto not in ("", "tcp", "udp", "sctp"):
            raise InvalidArgument(f"invalid port {ns.port!r}: expected PORT[/PROTO] (tcp, udp or sctp)")
        raise NotFound(f"No public port '{int(num)}/{proto or 'tcp'}' published for {ns.container}")
    return 0


def cmd_cleanup(opts, argv):
    p = parser("container cleanup")
    p.add_argument("container")
    ns = p.parse_args(argv)
    from pallet.engine import lifecycle

    env = open_env(opts)
    lifecycle.cleanup(env, ns.container)
    return 0


VERBS = {
    "start": cmd_start, "stop": cmd_stop, "restart": cmd_restart, "kill": cmd_kill,
    "pause": lambda o, a: cmd_pause(o, a, "pause"), "unpause": lambda o, a: cmd_pause(o, a, "unpause"),
    "rm": cmd_rm, "rename": cmd_rename, "wait": cmd_wait, "ps": cmd_ps, "ls": cmd_ps, "list": cmd_ps,
    "inspect": cmd_inspect, "logs": cmd_logs, "exec": cmd_exec, "top": cmd_top, "port": cmd_port,
    "cleanup": cmd_cleanup,
}
# `container prune` is pallet.cli.filesystem's (it reports the space reclaimed)
VERBS["prune"] = lambda o, a: __import__("pallet.cli.filesystem", fromlist=["run"]).run(o, "prune", a)

# `container VERB` for verbs other modules own: run/create (pallet.cli.run), prune (pallet.cli.filesystem)
GROUP_EXTRA = {"create": "run", "run": "run", "prune": "filesystem"}


def run(opts: GlobalOptions, verb: str, argv: list[str]) -> int:
    if verb == "container":
        if not argv or argv[0] in ("-h", "--help"):
            print("Usage: pallet container COMMAND\n\nCommands:\n  " + "\n  ".join(sorted(set(VERBS) | set(GROUP_EXTRA))))
            return 0
        verb, argv = argv[0], argv[1:]
        if verb in GROUP_EXTRA:
            from importlib import import_module

            return import_module(f"pallet.cli.{GROUP_EXTRA[verb]}").run(opts, verb, argv)
        other = _other_module(verb)
        if other:
            from importlib import import_module

            return import_module(f"pallet.cli.{other}").run(opts, verb, argv)
    fn = VERBS.get(verb)
    if fn is None:
        sys.stderr.write(f"Error: unknown container command {verb!r}\n")
        return 125
    return run_verb(fn, opts, argv)


def _other_module(verb: str) -> str:
    from pallet.cli.main import VERBS as ALL

    mod = ALL.get(verb)
    return mod if mod and mod != "containers" else ""


def cmd_attach(opts, argv):
    p = parser("attach")
    p.add_argument("--no-stdin", action="store_true")
    p.add_argument("--sig-proxy", action="store_true", default=True)  # --sig-proxy=false turns it off
    p.add_argument("--detach-keys", default="ctrl-p,ctrl-q")
    p.add_argument("container")
    ns = p.parse_args(argv)
    from pallet.engine import attach

    return attach.attach(open_env(opts), ns.container, stdin=not ns.no_stdin, detach_keys=ns.detach_keys,
                         sig_proxy=ns.sig_proxy)


def cmd_mount(opts, argv, verb="mount"):
    p = parser(verb)
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    from pallet.engine import fsops

    env = open_env(opts)
    if verb == "mount":
        for ref in ns.containers:
            print(fsops.mount(env, ref))
        return 0
    return each(ns.containers, lambda r: fsops.unmount(env, r))


def cmd_export(opts, argv):
    p = parser("export")
    p.add_argument("-o", "--output", default="")
    p.add_argument("container")
    ns = p.parse_args(argv)
    from pallet.engine import fsops
    from pallet.errors import InvalidArgument

    env = open_env(opts)
    if ns.output:
        tmp = ns.output + ".tmp"
        with open(tmp, "wb") as f:
            fsops.export(env, ns.container, f)
        os.replace(tmp, ns.output)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to write a tar stream to a terminal: use -o FILE or redirect")
    fsops.export(env, ns.container, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    return 0


def cmd_commit(opts, argv):
    p = parser("commit")
    p.add_argument("-a", "--author", default="")
    p.add_argument("-c", "--change", action="append", default=[])
    p.add_argument("-m", "--message", default="")
    p.add_argument("-p", "--pause", default="true")
    p.add_argument("container")
    p.add_argument("reference", nargs="?", default="")
    ns = p.parse_args(argv)
    from pallet.engine import fsops

    print(fsops.commit(open_env(opts), ns.container, ns.reference, changes=ns.change, message=ns.message,
                       author=ns.author, pause=ns.pause != "false"))
    return 0


def cmd_update(opts, argv):
    p = parser("update")
    p.add_argument("-m", "--memory", default="")
    p.add_argument("--memory-swap", default="")
    p.add_argument("--cpus", default="")
    p.add_argument("--cpu-shares", type=int, default=0)
    p.add_argument("--pids-limit", type=int, default=0)
    p.add_argument("--restart", default="")
    p.add_argument("containers", nargs="+")
    ns = p.parse_args(argv)
    if not any((ns.memory, ns.memory_swap, ns.cpus, ns.cpu_shares, ns.pids_limit, ns.restart)):
        sys.stderr.write("Error: you must provide one or more flags when using this command\n")
        return 1
    from pallet.engine import lifecycle
    from pallet.errors import InvalidArgument

    env = open_env(opts)
    code = 0
    for ref in ns.containers:  # as `each`, but a refused value is pallet's usage error (125), as at create
        try:
            lifecycle.update(env, ref, memory=ns.memory, memory_swap=ns.memory_swap, cpus=ns.cpus,
                             cpu_shares=ns.cpu_shares, pids_limit=ns.pids_limit, restart=ns.restart)
            print(ref, flush=True)
        except PalletError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = max(code, 125 if isinstance(exc, InvalidArgument) else 1)
    return code


VERBS.update({
    "attach": cmd_attach, "mount": cmd_mount, "unmount": lambda o, a: cmd_mount(o, a, "unmount"),
    "umount": lambda o, a: cmd_mount(o, a, "unmount"), "export": cmd_export,
    "commit": cmd_commit, "update": cmd_update,
})
