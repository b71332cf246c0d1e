"""A small flag parser for the hot verbs (`run`, `create`, `ps`, `stats`): argparse's subset they use.

Why not argparse: importing it pulls in gettext, locale and (for its help
formatter, built once per flag) shutil: ~6-10 ms of a `ps` that has to finish
in half of podman's time. Same calls as argparse for what pallet uses:

    p = Parser("pallet ps")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-n", "--last", type=int, default=-1)
    p.add_argument("-f", "--filter", action="append", default=[])
    p.add_argument("containers", nargs="*")
    ns = p.parse_args(argv)

Accepted forms, as Docker's CLI: `--name value`, `--name=value`, `-n value`,
`-nvalue`, grouped switches `-aq`, a switch group ending in a flag that takes
a value (`-ite FOO`); `--` ends the flags. A REMAINDER positional takes
every argument after the positional before it, flags included (`run IMAGE
CMD -x`). Errors raise FlagError with one line naming the flag.
"""

from __future__ import annotations

from pallet.errors import InvalidArgument

REMAINDER = "..."  # argparse.REMAINDER's value, so either spelling works


class FlagError(InvalidArgument):
    """A bad flag or argument: one line and exit code 125, as Docker."""

    exit_code = 125


class Namespace:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    def __repr__(self) -> str:
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items())) + ")"


class _Flag:
    __slots__ = ("names", "dest", "action", "type", "default", "help")

    def __init__(self, names, dest, action, type_, default, help_):
        self.names, self.dest, self.action, self.type, self.default, self.help = names, dest, action, type_, default, help_

    @property
    def takes_value(self) -> bool:
        return self.action in ("store", "append")


class Parser:
    def __init__(self, prog: str, description: str = "", *, add_help: bool = True):
        self.prog, self.description = prog, description
        self._flags: dict[str, _Flag] = {}
        self._order: list[_Flag] = []
        self._positionals: list[tuple[str, str | None, object]] = []  # (dest, nargs, default)
        if add_help:
            self.add_argument("-h", "--help", action="help")

    def add_argument(self, *names: str, action: str = "store", default=None, type=None, dest: str | None = None,
                     nargs: str | None = None, help: str | None = None, metavar: str | None = None):
        if not names[0].startswith("-"):
            if nargs == "*" and default is None:
                default = []
            self._positionals.append((dest or names[0], nargs, default))
            return
        if action not in ("store", "store_true", "append", "help"):
            raise ValueError(f"flags.Parser: unsupported action {action!r}")
        long = [n for n in names if n.startswith("--")]
        dest = dest or (long[0] if long else names[0]).lstrip("-").replace("-", "_")
        if action == "store_true" and default is None:
            default = False
        flag = _Flag(names, dest, action, type, default, help)
        for n in names:
            self._flags[n] = flag
        self._order.append(flag)

    # ---------------------------------------------------------------- parsing

    def parse_args(self, argv: list[str]) -> Namespace:
        values: dict = {}
        for f in self._order:
            if f.action != "help":
                d = f.default
                values[f.dest] = list(d) if isinstance(d, list) else d
        positionals: list[str] = []
        remainder_at = self._remainder_index()
        i, n = 0, len(argv)
        while i < n:
            arg = argv[i]
            if remainder_at is not None and len(positionals) >= remainder_at:
                positionals.extend(argv[i:])
                break
            if arg == "--":
                positionals.extend(argv[i + 1:])
                break
            if arg.startswith("--"):
                name, eq, inline = arg.partition("=")
                flag = self._flags.get(name)
                if flag is None:
                    raise FlagError(f"{self.prog}: unknown flag: {name}")
                if flag.takes_value:
                    if eq:
                        value = inline
                    elif i + 1 < n:
                        i += 1
                        value = argv[i]
                    else:
                        raise FlagError(f"{self.prog}: flag needs an argument: {name}")
                    self._store(values, flag, name, value)
                elif eq and flag.action == "store_true" and inline.lower() in ("true", "false", "1", "0"):
                    values[flag.dest] = inline.lower() in ("true", "1")  # Go's `--rm=false`, `--sig-proxy=false`
                elif eq:
                    raise FlagError(f"{self.prog}: flag takes no value: {name}")
                else:
                    self._switch(values, flag)
            elif arg.startswith("-") and len(arg) > 1:
                j = 1
                while j < len(arg):
                    name = "-" + arg[j]
                    flag = self._flags.get(name)
                    if flag is None:
                        raise FlagError(f"{self.prog}: unknown shorthand flag: {arg[j]!r} in {arg}")
                    if flag.takes_value:
                        if j + 1 < len(arg):
                            value = arg[j + 1:].removeprefix("=")
                        elif i + 1 < n:
                            i += 1
                            value = argv[i]
                        else:
                            raise FlagError(f"{self.prog}: flag needs an argument: {name}")
                        self._store(values, flag, name, value)
                        break
                    self._switch(values, flag)
                    j += 1
            else:
                positionals.append(arg)
            i += 1
        self._assign(values, positionals)
        return Namespace(**values)

    def _remainder_index(self) -> int | None:
        for k, (_, nargs, _) in enumerate(self._positionals):
            if nargs == REMAINDER:
                return k
        return None

    def _switch(self, values: dict, flag: _Flag) -> None:
        if flag.action == "help":
            import sys

            sys.stdout.write(self.format_help())
            raise SystemExit(0)
        values[flag.dest] = True

    def _store(self, values: dict, flag: _Flag, name: str, raw: str) -> None:
        value = raw
        if flag.type is not None:
            try:
                value = flag.type(raw)
            except ValueError:
                raise FlagError(f"{self.prog}: invalid value {raw!r} for {name}: expected {flag.type.__name__}") from None
        if flag.action == "append":
            values[flag.dest].append(value)
        else:
            values[flag.dest] = value

    def _assign(self, values: dict, args: list[str]) -> None:
        """Positionals by their nargs (None: one, '?': zero or one, '*': any, '+': one or more, REMAINDER: the rest)."""
        specs = self._positionals
        mins = [1 if nargs in (None, "+") else 0 for _, nargs, _ in specs]
        k = 0
        for idx, (dest, nargs, default) in enumerate(specs):
            left = len(args) - k
            need_after = sum(mins[idx + 1:])
            if nargs is None:
                if left < 1:
                    raise FlagError(f"{self.prog}: requires an argument: {dest.upper()}")
                values[dest] = args[k]
                k += 1
            elif nargs == "?":
                if left > need_after:
                    values[dest] = args[k]
                    k += 1
                else:
                    values[dest] = default
            elif nargs == "+":
                take = max(left - need_after, 0)
                if take < 1:
                    raise FlagError(f"{self.prog}: requires at least 1 argument ({dest.upper()})")
                values[dest] = args[k:k + take]
                k += take
            else:  # "*" and REMAINDER
                take = max(left - need_after, 0)
                values[dest] = args[k:k + take] if take or nargs != "*" or default is None else default
                k += take
        if k < len(args):
            raise FlagError(f"{self.prog}: unexpected argument: {args[k]}")

    # ---------------------------------------------------------------- help

    def format_help(self) -> str:
        pos = " ".join(d.upper() + ("..." if nargs in ("*", "+", REMAINDER) else "")
                       for d, nargs, _ in self._positionals)
        lines = [f"Usage: {self.prog} [OPTIONS] {pos}".rstrip(), ""]
        if self.description:
            lines += [self.description, ""]
        lines.append("Options:")
        for f in self._order:
            spec = ", ".join(f.names) + (" value" if f.takes_value else "")
            lines.append(f"  {spec:<28} {f.help or ''}".rstrip())
        return "\n".join(lines) + "\n"
