"""Shared by the container, volume and system verbs: one-line flag errors, opening the engine."""

from __future__ import annotations

import sys

from pallet.cli.common import GlobalOptions
from pallet.cli.flags import FlagError, Parser
from pallet.errors import PalletError


def parser(prog: str, description: str = "", *, add_help: bool = True) -> Parser:
    """argparse's subset without argparse (pallet.cli.flags): a bad flag is one line, FlagError (exit 125)."""
    return Parser(f"pallet {prog}", description, add_help=add_help)


def run_verb(fn, opts: GlobalOptions, argv: list[str]) -> int:
    """Call a verb's function; a bad flag is one line and exit 125, as Docker."""
    try:
        return fn(opts, argv)
    except FlagError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        return 125


def run_group(group: str, verbs: dict, opts: GlobalOptions, argv: list[str]) -> int:
    """`pallet GROUP VERB ARGS`: usage without a verb, one line for an unknown one, exit 125 for a bad flag."""
    if not argv or argv[0] in ("-h", "--help"):
        print(f"Usage: pallet {group} COMMAND\n\nCommands:\n  " + "\n  ".join(sorted(verbs)))
        return 0
    fn = verbs.get(argv[0])
    if fn is None:
        sys.stderr.write(f"Error: unknown {group} command {argv[0]!r}\n")
        return 125
    return run_verb(fn, opts, argv[1:])


def each(refs: list[str], fn, show=lambda ref, _result: ref) -> int:
    """Docker's many-object verbs: print what worked (the ref, or `show(ref, result)`), one error line per
    failure, and exit 1 if any failed."""
    code = 0
    for ref in refs:
        try:
            print(show(ref, fn(ref)), flush=True)
        except PalletError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = 1
    return code


def inspect_each(refs: list[str], fn, fmt: str) -> int:
    """Docker's `inspect`: `fn(ref)` for each ref, one error line per failure; the objects found as a JSON
    array, or the `--format` template once per object; exit 1 if any failed."""
    import json

    objects, code = [], 0
    for ref in refs:
        try:
            objects.append(fn(ref))
        except PalletError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = 1
    if fmt:
        for d in objects:
            print(render(fmt, d))
    else:
        print(json.dumps(objects, indent=4))
    return code


def open_env(opts: GlobalOptions):
    from pallet.engine.env import open_env as _open

    return _open(root=opts.root, runroot=opts.runroot, config=opts.config, runtime=opts.runtime,
                 config_required=opts.config_set)


def fail(msg: str, code: int = 1) -> int:
    sys.stderr.write(f"Error: {msg}\n")
    return code


def render(template: str, data) -> str:
    """Go template rendering through pallet.cli.gotemplate; a tiny `{{.A.B}}` / `{{json .X}}` fallback until it lands."""
    try:
        from pallet.cli.gotemplate import render as go_render
    except ImportError:
        return _fallback_render(template, data)
    return go_render(template, data)


def _fallback_render(template: str, data) -> str:
    import json
    import re

    def lookup(path: str):
        cur = data
        for part in [p for p in path.split(".") if p]:
            cur = cur.get(part) if isinstance(cur, dict) else None
        return cur

    def sub(m):
        expr = m.group(1).strip()
        if expr.startswith("json "):
            return json.dumps(lookup(expr[5:].strip()))
        v = lookup(expr)
        if isinstance(v, bool):
            return "true" if v else "false"
        if v is None:
            return "<no value>"
        if isinstance(v, (dict, list)):
            return "map[...]" if isinstance(v, dict) else "[" + " ".join(map(str, v)) + "]"
        return str(v)

    text = template.replace("\\t", "\t").replace("\\n", "\n")
    return re.sub(r"\{\{(.*?)\}\}", sub, text)


def strict_rows(rows: list[dict]) -> list:
    """Listing rows whose unknown `{{.Field}}` is an error, as with Docker's row structs (a plain map prints
    `<no value>`, hiding a typo); `{{json .}}` still sees each dict."""
    from pallet.cli.gotemplate import TemplateExecError
    from pallet.cli.gotemplate.execute import FieldSource

    class Row(dict, FieldSource):
        def template_field(self, name: str, args: list):
            if name in self and not args:
                return self[name]
            if name == "Label" and len(args) == 1 and "Labels" in self:  # Docker's {{.Label "com.x.y"}}
                pairs = (kv.partition("=") for kv in str(self["Labels"]).split(",") if kv)
                return {k: v for k, _, v in pairs}.get(str(args[0]), "")
            raise TemplateExecError(f"template: :1: executing \"\" at <.{name}>: can't evaluate field {name} "
                                    "in type *formatter.Context")

    return [Row(r) for r in rows]


def print_table(rows: list[dict], columns: list[tuple[str, str]], fmt: str = "") -> None:
    """Docker's table output, or `--format` (with `table` prefix for headers, `json` for JSON lines)."""
    if fmt and fmt != "table":
        # Docker's formatter: `\t`/`\n` escapes, tabwriter columns under `table`, `json` as {{json .}}
        from pallet.cli.gotemplate import format_rows

        default = "table " + "\t".join("{{.%s}}" % k for k, _ in columns)
        sys.stdout.write(format_rows(fmt, strict_rows(rows), default, dict(columns)))
        return
    keys = [k for k, _ in columns]
    heads = [h for _, h in columns]
    widths = [max([len(h)] + [len(str(r.get(k, ""))) for r in rows]) for k, h in columns]
    lines = ["   ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip()]
    for r in rows:
        lines.append("   ".join(str(r.get(k, "")).ljust(w) for k, w in zip(keys, widths)).rstrip())
    print("\n".join(lines))
