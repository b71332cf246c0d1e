"""Output helpers shared by the debug commands: tables, JSON, --format.

Field names for --format and --json are Go-style (`{{.PodName}}`,
`{{.ContainerID}}`), as in Docker's templates.
"""

from __future__ import annotations

import json
import re

_WORDS = {"id": "ID", "uid": "UID", "qos": "QoS", "pid": "PID", "cpu": "CPU", "ns": "NS"}


def go_name(snake: str) -> str:
    return "".join(_WORDS.get(w, w.capitalize()) for w in snake.split("_"))


def go_keys(value):
    if isinstance(value, dict):
        return {go_name(k) if "_" in k or k.islower() else k: go_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [go_keys(v) for v in value]
    return value


def to_json(rows) -> str:
    return json.dumps(go_keys(rows), indent=2, sort_keys=False)


_FIELD = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}")


def fallback_render(template: str, data: dict) -> str:
    # Used only when the CLI's gotemplate module is absent: {{.Field}}, {{.A.B}}, {{json .X}}, {{json .}}
    def sub(m):
        value = data
        for part in filter(None, m.group(2).split(".")):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return json.dumps(value) if m.group(1) else ("" if value is None else str(value))
    return _FIELD.sub(sub, template.replace("\\t", "\t").replace("\\n", "\n"))


def format_rows(template: str, rows: list[dict], render=None) -> str:
    """One rendered line per row; `render(template, data)` is the CLI's Go-template engine."""
    render = render or fallback_render
    return "".join(render(template, go_keys(row)) + "\n" for row in rows)


def table(headers: list[str], rows: list[list], *, right: frozenset[int] = frozenset()) -> str:
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for row in cells:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)]
        out.append("  ".join(parts).rstrip())
    return "\n".join(out) + "\n"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return str(n)
