"""Docker's Go-template `--format`, shared by every verb.

A faithful subset of Go's text/template plus Docker's functions:

    from pallet.cli.gotemplate import format_rows, render
    render("{{.Name}}: {{json .Config}}", inspect_dict)
    format_rows(args.format, rows, "table {{.ID}}\\t{{.Image}}", {"ID": "CONTAINER ID"})

- parse(text) -> Template (cached); Template.execute(data) -> str
- render(text, data) -> str
- render_table(text, rows, headers) -> str (header row, tabwriter alignment)
- format_rows(format, rows, default_table, headers) -> the output of a listing verb
- format_inspect(format, objects) -> the output of an inspect verb

Errors are InvalidArgument subclasses with Go's wording:
TemplateParseError ("template: :1: unexpected \\"}\\" in operand") and
TemplateExecError ("template: :1:2: executing \\"\\" at <.Foo>: ...").
See the package's modules for the details of each piece:
lexer, parser, nodes, execute, funcs, gofmt, gojson, tabwriter, table.
"""

from __future__ import annotations

from functools import lru_cache

from pallet.cli.gotemplate.errors import TemplateExecError, TemplateParseError
from pallet.cli.gotemplate.execute import MISSING_KEY_MODES, execute
from pallet.cli.gotemplate.funcs import FUNCTIONS
from pallet.cli.gotemplate.parser import parse_tree
from pallet.cli.gotemplate.table import format_inspect, format_rows, header_name, render_table


class Template:
    """A parsed template; immutable, so parse() can cache and share it."""

    __slots__ = ("text", "name", "tree")

    def __init__(self, text: str, name: str = ""):
        self.text = text
        self.name = name
        self.tree = parse_tree(text, name, FUNCTIONS)

    def execute(self, data, *, missingkey: str = "default") -> str:
        """Render over `data`. missingkey is Go's option: "default"/"invalid"
        print `<no value>` for an absent map key, "zero" the zero value,
        "error" fails (Docker's raw-JSON inspect fallback uses "error")."""
        if missingkey not in MISSING_KEY_MODES:
            raise ValueError(f"unrecognized missingkey option {missingkey!r}")
        return execute(self.tree, self.text, self.name, data, FUNCTIONS, missingkey)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


@lru_cache(maxsize=128)
def parse(text: str, name: str = "") -> Template:
    return Template(text, name)


def render(text: str, data, *, missingkey: str = "default") -> str:
    return parse(text).execute(data, missingkey=missingkey)


__all__ = [
    "Template", "TemplateExecError", "TemplateParseError", "format_inspect",
    "format_rows", "header_name", "parse", "render", "render_table",
]
