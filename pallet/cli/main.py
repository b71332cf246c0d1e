"""`pallet` entry point: global flags, then one verb module imported lazily.

The CLI's start time is a headline number, so this module imports almost
nothing: it reads the global flags by hand, finds the verb in VERBS and
imports only that verb's module, which parses its own flags.

A verb module exposes `run(opts: GlobalOptions, verb: str, argv: list[str]) -> int`.
"""

from __future__ import annotations

import sys

# verb (or "group verb") -> module under pallet.cli. Groups like `image`
# pass their sub-verb through argv; the module decides.
VERBS: dict[str, str] = {
    "version": "version",
    "image": "images", "images": "images", "import": "images", "load": "images", "save": "images",
    "tag": "images", "rmi": "images", "history": "images",
    # containers (issue 5)
    "create": "run", "run": "run", "container": "containers",
    "start": "containers", "stop": "containers", "restart": "containers", "kill": "containers",
    "pause": "containers", "unpause": "containers", "rm": "containers", "rename": "containers",
    "wait": "containers", "ps": "containers", "inspect": "containers", "logs": "containers",
    "exec": "containers", "top": "containers", "port": "containers", "volume": "volumes", "stats": "stats",
    "info": "system", "system": "system",
    "attach": "containers", "mount": "containers", "unmount": "containers", "umount": "containers",
    "export": "containers", "commit": "containers", "update": "containers",
    "cp": "filesystem", "diff": "filesystem",
    "debug": "debug",
}

GLOBAL_FLAGS_WITH_VALUE = {"--root", "--runroot", "--log-level", "--config", "--runtime"}
GLOBAL_SWITCHES = {"--debug", "-D"}
VERSION_FLAGS = {"--version", "-v"}  # podman's: "pallet version X", as the first line of `pallet version`
# podman's levels (Docker's are a subset); pallet logs nothing more at any level, but a typo is still an error
LOG_LEVELS = {"trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"}

USAGE = """Usage: pallet [--root DIR] [--runroot DIR] [--config FILE] [--runtime NAME] [--log-level LEVEL] [-D]
              COMMAND [ARGS...]
       pallet --version

A daemonless container engine. Run 'pallet COMMAND --help' for a command's flags.
"""


class UsageError(Exception):
    """A bad global flag: one line on stderr, exit 125 (as podman and Docker)."""


def _split_globals(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, inline = arg.partition("=")
        if name in GLOBAL_FLAGS_WITH_VALUE:
            if eq:
                value = inline
                i += 1
            elif i + 1 < len(argv):
                value = argv[i + 1]
                i += 2
            else:
                raise UsageError(f"flag needs an argument: {name}")
            if not value:  # `--root ''` must not mean the default root (nor the current directory)
                raise UsageError(f"flag {name} needs a non-empty value")
            if name == "--log-level" and value.lower() not in LOG_LEVELS:
                raise UsageError(f"invalid --log-level {value!r}: use one of {', '.join(sorted(LOG_LEVELS))}")
            values[name] = value
        elif arg in GLOBAL_SWITCHES:
            values["--debug"] = "1"
            i += 1
        else:
            break
    return values, argv[i:]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        flags, rest = _split_globals(argv)
    except UsageError as exc:
        sys.stderr.write(f"pallet: {exc}\n")
        return 125
    if rest and rest[0] in VERSION_FLAGS:
        from pallet.cli.version import version_line

        sys.stdout.write(version_line() + "\n")
        return 0
    if not rest or rest[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE + "\nCommands:\n  " + "\n  ".join(sorted(VERBS)) + "\n")
        return 0
    if rest[0].startswith("-"):
        sys.stderr.write(f"pallet: unknown flag: {rest[0]}\n")
        return 125
    verb, verb_args = rest[0], rest[1:]
    module_name = VERBS.get(verb)
    if module_name is None:
        sys.stderr.write(f"pallet: '{verb}' is not a pallet command.\nSee 'pallet --help'\n")
        return 125
    from pallet.cli.common import GlobalOptions, call_reporting_errors

    opts = GlobalOptions.from_flags(flags)
    __import__(f"pallet.cli.{module_name}")
    module = sys.modules[f"pallet.cli.{module_name}"]
    code = call_reporting_errors(module.run, opts, verb, verb_args)
    _before_exit()
    return code


def _before_exit() -> None:
    """The interpreter's exit runs a full garbage collection over every object the imports made (~4-6 ms of
    each command here): freeze them instead, the process ends anyway. The database connections, which only
    that collection would close (so checkpointing the WAL), are closed here first."""
    import gc

    db = sys.modules.get("pallet.metadata.db")
    if db is not None:
        db.close_all()
    gc.freeze()


if __name__ == "__main__":
    sys.exit(main())
