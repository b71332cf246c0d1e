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
lexer, parser, nodes, template, execute, funcs, gofmt, gojson, tabwriter, table.
"""

from __future__ import annotations

from pallet.cli.gotemplate.errors import TemplateExecError, TemplateParseError
from pallet.cli.gotemplate.table import format_inspect, format_rows, header_name, render_table
from pallet.cli.gotemplate.template import Template, parse, render

__all__ = [
    "Template", "TemplateExecError", "TemplateParseError", "format_inspect",
    "format_rows", "header_name", "parse", "render", "render_table",
]
