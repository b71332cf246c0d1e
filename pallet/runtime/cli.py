"""`pallet-runtime`: runc's command line.

The parser is a table, not argparse: argparse (and the `re` it imports)
costs ~15 ms here, half of a whole `run` budget. Flags follow Go's flag
package as runc uses it: `-flag` or `--flag`, `--flag=value` or
`--flag value`, parsing stops at the first positional argument or `--`.
Each verb's module is imported only when that verb runs.

Exit codes as runc: 0, 1 on any error, `run` (foreground) the container
process's exit status (128+n for signal n).
"""

from __future__ import annotations

import os
import sys

USAGE = "usage: pallet-runtime [global options] command [command options] [arguments...]"

# name: (kind, short alias, help); kind: "str", "int", "bool"
GLOBAL_FLAGS = {
    "root": ("str", None, "root directory for storage of container state (default /run/pallet-runtime)"),
    "log": ("str", None, "set the log file to write runtime logs to (default stderr)"),
    "log-format": ("str", None, "set the log format ('text' (default), or 'json')"),
    "debug": ("bool", None, "enable debug logging"),
    "systemd-cgroup": ("bool", None, "cgroupsPath is slice:prefix:name (accepted; the form decides)"),
    "rootless": ("str", None, "accepted for runc compatibility"),
    "criu": ("str", None, "accepted for runc compatibility"),
    "help": ("bool", "h", "show help"),
    "version": ("bool", "v", "print the version"),
}

_CREATE_FLAGS = {
    "bundle": ("str", "b", "path to the root of the bundle directory (default: current directory)"),
    "console-socket": ("str", None, "path to an AF_UNIX socket which will receive the pty master"),
    "pid-file": ("str", None, "file to write the process id to"),
    "no-pivot": ("bool", None, "do not use pivot_root (chroot instead)"),
    "no-new-keyring": ("bool", None, "do not create a new session keyring"),
    "preserve-fds": ("int", None, "pass N additional file descriptors (3..3+N-1) to the container"),
}

# verb: (flags, positional spec, summary); positional: "id" exactly one, "id+" id then the rest, "" none
COMMANDS: dict[str, tuple[dict, str, str]] = {
    "create": (_CREATE_FLAGS, "id", "create a container"),
    "start": ({}, "id", "execute the user defined process in a created container"),
    "run": (dict(_CREATE_FLAGS, detach=("bool", "d", "detach from the container's process"),
                 **{"keep": ("bool", None, "do not delete the container after it exits")}), "id", "create and run a container"),
    "state": ({}, "id", "output the state of a container"),
    "kill": ({"all": ("bool", "a", "send the signal to all processes in the container")}, "id+", "send a signal (default SIGTERM) to the container's init"),
    "delete": ({"force": ("bool", "f", "forcibly delete a running container (SIGKILL)")}, "id", "delete a container"),
    "list": ({"format": ("str", "f", "table or json"), "quiet": ("bool", "q", "display only container IDs")}, "", "list containers"),
    "ps": ({"format": ("str", "f", "table or json")}, "id+", "processes running inside a container"),
    "exec": ({
        "console-socket": _CREATE_FLAGS["console-socket"],
        "cwd": ("str", None, "current working directory in the container"),
        "env": ("list", "e", "set environment variables (KEY=VALUE, repeatable)"),
        "tty": ("bool", "t", "allocate a pseudo-TTY"),
        "user": ("str", "u", "UID[:GID]"),
        "additional-gids": ("list", "g", "additional gids"),
        "process": ("str", "p", "path to a process.json"),
        "detach": ("bool", "d", "detach from the process"),
        "pid-file": _CREATE_FLAGS["pid-file"],
        "process-label": ("str", None, "SELinux label"),
        "apparmor": ("str", None, "AppArmor profile"),
        "no-new-privs": ("bool", None, "set no_new_privs"),
        "cap": ("list", "c", "add a capability (repeatable)"),
        "preserve-fds": _CREATE_FLAGS["preserve-fds"],
        "ignore-paused": ("bool", None, "allow exec in a paused container"),
        "cgroup": ("list", None, "accepted for runc compatibility"),
    }, "id+", "execute a new process inside a container"),
    "spec": ({"bundle": _CREATE_FLAGS["bundle"], "rootless": ("bool", None, "a spec for a rootless container")}, "", "create a new specification file (config.json)"),
    "features": ({}, "", "show the enabled features"),
    # The cgroups engineer's verbs: modules pallet.runtime.<verb> with main(root, args) when they land.
    "pause": ({}, "id", "suspend all processes in a container"),
    "resume": ({}, "id", "resume all processes in a container"),
    "update": ({
        "resources": ("str", "r", "path to a resources JSON (LinuxResources), or - for stdin; replaces the flags"),
        "memory": ("str", None, "memory limit (bytes, or 512m, 1g; -1 unlimited)"),
        "memory-swap": ("str", None, "memory + swap limit; -1 unlimited swap"),
        "memory-reservation": ("str", None, "memory soft limit"),
        "kernel-memory": ("str", None, "kernel memory limit (deprecated, ignored)"),
        "kernel-memory-tcp": ("str", None, "kernel TCP buffer limit"),
        "cpu-quota": ("str", None, "CPU CFS quota per period (usecs)"),
        "cpu-period": ("str", None, "CPU CFS period (usecs)"),
        "cpu-shares": ("str", None, "CPU shares (relative weight)"),
        "cpu-share": ("str", None, "CPU shares (runc's spelling)"),
        "cpu-rt-period": ("str", None, "realtime period (usecs)"),
        "cpu-rt-runtime": ("str", None, "realtime runtime (usecs)"),
        "cpuset-cpus": ("str", None, "CPUs to use (0-3, 0,1)"),
        "cpuset-mems": ("str", None, "memory nodes to use"),
        "pids-limit": ("str", None, "maximum number of pids (-1 unlimited)"),
        "blkio-weight": ("str", None, "block I/O weight, 10..1000"),
    }, "id+", "update container resource constraints"),
    "events": ({"stats": ("bool", None, "display the container's stats then exit"), "interval": ("str", None, "stats interval")}, "id", "display container events"),
}


class UsageError(Exception):
    pass


def parse_flags(argv: list[str], table: dict) -> tuple[dict, list[str]]:
    """Go flag semantics: options up to the first positional (or `--`); the rest is positional."""
    short = {spec[1]: name for name, spec in table.items() if spec[1]}
    opts: dict = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return opts, argv[i + 1 :]
        if not arg.startswith("-") or arg == "-":
            return opts, argv[i:]
        body = arg.lstrip("-")
        name, eq, value = body.partition("=")
        name = short.get(name, name) if len(name) == 1 else name
        if name not in table:
            raise UsageError(f"flag provided but not defined: {arg.split('=')[0]}")
        kind = table[name][0]
        if kind == "bool":
            opts[name] = (value.lower() in ("1", "t", "true")) if eq else True
        else:
            if not eq:
                i += 1
                if i >= len(argv):
                    raise UsageError(f"flag needs an argument: {arg}")
                value = argv[i]
            if kind == "int":
                try:
                    opts[name] = int(value)
                except ValueError:
                    raise UsageError(f"invalid value {value!r} for flag {arg}: not an integer") from None
            elif kind == "list":
                opts.setdefault(name, []).append(value)
            else:
                opts[name] = value
        i += 1
    return opts, []


def _help(verb: str | None) -> str:
    if verb is None:
        lines = [USAGE, "", "commands:"]
        lines += [f"   {name:<10} {spec[2]}" for name, spec in COMMANDS.items()]
        lines += ["", "global options:"]
        lines += [f"   --{name:<16} {spec[2]}" for name, spec in GLOBAL_FLAGS.items()]
        return "\n".join(lines) + "\n"
    flags, pos, summary = COMMANDS[verb]
    arg = {"id": " <container-id>", "id+": " <container-id> [args...]", "": ""}[pos]
    lines = [f"pallet-runtime {verb} - {summary}", "", f"usage: pallet-runtime {verb} [command options]{arg}", ""]
    for name, spec in flags.items():
        alias = f", -{spec[1]}" if spec[1] else ""
        lines.append(f"   --{name}{alias:<5} {spec[2]}")
    return "\n".join(lines) + "\n"


class Logger:
    """--log / --log-format: errors and warnings as runc writes them (text or JSON lines)."""

    def __init__(self, path: str | None, fmt: str, debug: bool):
        self.path = path
        self.fmt = fmt
        self.debug_on = debug

    def write(self, level: str, msg: str) -> None:
        if self.path:
            from pallet.oci.runtime_spec import dumps
            from pallet.runtime.state import now_rfc3339

            if self.fmt == "json":
                line = dumps({"level": level, "msg": msg, "time": now_rfc3339()})
            else:
                line = f'time="{now_rfc3339()}" level={level} msg="{msg}"'
            try:
                with open(self.path, "a") as f:
                    f.write(line + "\n")
            except OSError:
                pass

    def error(self, msg: str) -> None:
        self.write("error", msg)
        sys.stderr.write(f"pallet-runtime: {msg}\n")


def main(argv: list[str] | None = None) -> int:
    argv_given = argv
    argv = sys.argv[1:] if argv is None else argv
    log = Logger(None, "text", False)
    try:
        gopts, rest = parse_flags(argv, GLOBAL_FLAGS)
        log = Logger(gopts.get("log"), gopts.get("log-format", "text"), gopts.get("debug", False))
        if gopts.get("debug"):
            from pallet.runtime import trace

            trace.enabled = True
            trace.mark("arguments parsed")
        if gopts.get("version"):
            from pallet.runtime.state import OCI_VERSION

            sys.stdout.write(f"pallet-runtime version 0.1.0\nspec: {OCI_VERSION}\n")
            return 0
        if not rest or gopts.get("help"):
            sys.stdout.write(_help(None))
            return 0 if gopts.get("help") else 1
        verb, args = rest[0], rest[1:]
        if verb not in COMMANDS:
            raise UsageError(f"no such command {verb!r}")
        if argv_given is None and verb != "events":
            # A short-lived command frees everything at exit: no cyclic collector walking every
            # object during the imports, and, after `create` forks, writing to pages the child
            # shares (copy on write). `events` streams for as long as it is left running.
            import gc

            gc.disable()
        flags, pos, _ = COMMANDS[verb]
        if "-h" in args[:1] or "--help" in args[:1]:
            sys.stdout.write(_help(verb))
            return 0
        opts, positional = parse_flags(args, dict(flags, help=("bool", "h", "show help")))
        if opts.get("help"):
            sys.stdout.write(_help(verb))
            return 0
        if pos == "id" and len(positional) != 1:
            raise UsageError(f'"{verb}" requires exactly 1 argument(s): the container id')
        if pos == "id+" and not positional:
            raise UsageError(f'"{verb}" requires at least 1 argument(s): the container id')
        if pos == "" and positional:
            raise UsageError(f'"{verb}" takes no arguments')
        root = gopts.get("root") or os.environ.get("PALLET_RUNTIME_ROOT") or "/run/pallet-runtime"
        from pallet.runtime import verbs

        return getattr(verbs, verb.replace("-", "_"))(root, opts, positional, log) or 0
    except UsageError as exc:
        log.error(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # our stdout went away (`| head`)
        return 1
    except Exception as exc:
        from pallet.errors import PalletError

        if isinstance(exc, PalletError):
            log.error(str(exc))
        elif isinstance(exc, OSError):
            from pallet.runtime.process.init import describe

            log.error(describe(exc))
        else:
            import traceback

            traceback.print_exc()
            log.error(f"internal error: {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
