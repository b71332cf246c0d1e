"""Docker's --format semantics on top of the template engine.

What docker/cli's formatter does with the user's --format value:

- "table" alone means the verb's default table; "table <tmpl>" renders
  a header row and one row per object, aligned by tabwriter;
- "json" means `{{json .}}` for each object (one JSON document a line);
- anything else is a template executed once per object, one line each;
- before parsing, the text after "table" is trimmed of spaces and the
  two-character escapes `\\t` and `\\n` become a tab and a newline, so
  `--format 'table {{.ID}}\\t{{.Name}}'` works from a shell.

The header row is the same template executed over the column names with
Docker's header functions (json, join, upper... leave the name intact).
Like Docker, a header that fails part-way keeps what it printed.
"""

from __future__ import annotations

from pallet.cli.gotemplate.errors import TemplateExecError, TemplateParseError
from pallet.cli.gotemplate.execute import FieldSource, execute_partial
from pallet.cli.gotemplate.funcs import HEADER_FUNCTIONS
from pallet.cli.gotemplate.tabwriter import DOCKER as TABWRITER
from pallet.cli.gotemplate.template import parse

TABLE_KEY = "table"
JSON_KEY = "json"
JSON_FORMAT = "{{json .}}"


def header_name(field: str) -> str:
    """Column name for a field: `CreatedAt` -> `CREATED AT`, `CPUPerc` -> `CPU PERC`.

    Words split where a lower-case letter or digit meets a capital, and
    before the last capital of a leading acronym (`CPUPerc`), except when
    only one lower-case letter follows it at the end or before a digit: a
    plural or a version stays on its acronym (`PIDs` -> `PIDS`,
    `IPv4Address` -> `IPV4 ADDRESS`).
    """
    words: list[str] = []
    current = ""
    for i, c in enumerate(field):
        if c in "_- ":
            if current:
                words.append(current)
            current = ""
            continue
        prev = field[i - 1] if i else ""
        if c.isupper() and current and (prev.islower() or prev.isdigit() or (
                prev.isupper() and _starts_word(field, i + 1))):
            words.append(current)
            current = ""
        current += c
    if current:
        words.append(current)
    return " ".join(words).upper()


def _starts_word(field: str, i: int) -> bool:
    """Whether the lower-case run at field[i] is a word's tail, not a suffix like `s` or `v`."""
    j = i
    while j < len(field) and field[j].islower():
        j += 1
    run = j - i
    return run > 1 or (run == 1 and j < len(field) and not field[j].isdigit())


class HeaderName(str, FieldSource):
    """A column name that still answers `.Sub` for `{{.Config.Image}}` columns."""

    __slots__ = ("headers", "path")

    def __new__(cls, value: str, headers: dict[str, str], path: str):
        self = super().__new__(cls, value)
        self.headers = headers
        self.path = path
        return self

    def template_field(self, name: str, args: list):
        path = f"{self.path}.{name}"
        return HeaderName(self.headers.get(path) or header_name(name), self.headers, path)


class HeaderRow(FieldSource):
    """The data a table's header row is rendered from (Docker's FullHeader())."""

    def __init__(self, headers: dict[str, str] | None):
        self.headers = dict(headers or {})

    def template_field(self, name: str, args: list):
        if name == "Label" and args:
            # docker ps's `{{.Label "com.example.x"}}` heads its column "x"
            return str(args[0]).split(".")[-1].replace("-", " ").replace("_", " ")
        header = self.headers.get(name)
        return HeaderName(header or header_name(name), self.headers, name)


def prepare(format_string: str) -> tuple[bool, str]:
    """Docker's preFormat: (is_table, template text)."""
    is_table = format_string.startswith(TABLE_KEY)
    if is_table:
        text = format_string[len(TABLE_KEY):]
    elif format_string == JSON_KEY:
        text = JSON_FORMAT
    else:
        text = format_string
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return is_table, text


def _wrapped(exc: Exception) -> Exception:
    # docker/cli wraps both parse and execution errors the same way
    return type(exc)(f"template parsing error: {exc}")


def render_table(template: str, rows, headers: dict[str, str] | None = None) -> str:
    """A header row and one row per object, aligned as `docker ps` aligns them.

    `template` may start with "table"; `headers` maps field names to column
    names (`{"ID": "CONTAINER ID"}`), other columns are named after their
    field (`CreatedAt` -> `CREATED AT`).
    """
    text = template[len(TABLE_KEY):] if template.startswith(TABLE_KEY) else template
    text = text.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    tmpl = parse(text)
    body = "".join(tmpl.execute(row) + "\n" for row in rows)
    head = execute_partial(tmpl.tree, tmpl.text, tmpl.name, HeaderRow(headers), HEADER_FUNCTIONS)
    return TABWRITER.format(head + "\n" + body)


def format_rows(format_string: str | None, rows, default_table: str,
                headers: dict[str, str] | None = None) -> str:
    """The whole output of a listing verb for its --format value (None: default)."""
    if not format_string or format_string == TABLE_KEY:
        format_string = default_table
    is_table, text = prepare(format_string)
    try:
        if is_table:
            return render_table(text, rows, headers)
        tmpl = parse(text)
        return "".join(tmpl.execute(row) + "\n" for row in rows)
    except (TemplateParseError, TemplateExecError) as exc:
        raise _wrapped(exc) from None


def format_inspect(format_string: str | None, objects, *, missingkey: str = "default") -> str:
    """`docker inspect` output: indented JSON array, "json" for a compact
    one, or a template executed per object (one line each)."""
    from pallet.cli.gotemplate.gojson import dumps

    objects = list(objects)
    if not format_string:
        return dumps(objects, indent="    ") + "\n"
    if format_string == JSON_KEY:
        return dumps(objects) + "\n"
    try:
        tmpl = parse(format_string)
        out = "".join(tmpl.execute(o, missingkey=missingkey) + "\n" for o in objects)
    except (TemplateParseError, TemplateExecError) as exc:
        raise _wrapped(exc) from None
    return out or "\n"
