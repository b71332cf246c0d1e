"""Go's encoding/json output for template values.

Compact (`{"a":1,"b":[2]}`) or indented like json.MarshalIndent; map keys
sorted, dataclass fields in declaration order (a Go struct), integers
without a decimal point, floats in Go's shortest form, non-ASCII kept as
UTF-8, U+2028/U+2029 always escaped, and <, >, & escaped as \\u003c etc.
unless escape_html=False (Docker's `json` template function turns it off;
`docker inspect` output keeps it on).
"""

from __future__ import annotations

from pallet.cli.gotemplate.gofmt import format_json_float
from pallet.cli.gotemplate.values import MISSING, is_list, sorted_items, struct_fields


class UnsupportedValue(ValueError):
    """NaN or an infinity: Go's encoder refuses them."""


def _escape_table(escape_html: bool) -> dict[int, str]:
    table = {c: f"\\u{c:04x}" for c in range(0x20)}
    table.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t",
                  ord("\b"): "\\b", ord("\f"): "\\f",
                  ord('"'): '\\"', ord("\\"): "\\\\",
                  0x2028: "\\u2028", 0x2029: "\\u2029"})
    if escape_html:
        table.update({ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"})
    return table


class Encoder:
    def __init__(self, *, escape_html: bool = True, indent: str = ""):
        self.escape = _escape_table(escape_html)
        self.indent = indent

    def encode(self, value) -> str:
        out: list[str] = []
        self._value(value, out, "\n")
        return "".join(out)

    def _string(self, s: str) -> str:
        return '"' + s.translate(self.escape) + '"'

    def _value(self, value, out: list[str], newline: str) -> None:
        if value is None or value is MISSING:
            out.append("null")
        elif value is True or value is False:
            out.append("true" if value else "false")
        elif isinstance(value, int):
            out.append(str(int(value)))
        elif isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise UnsupportedValue(f"json: unsupported value: {value}")
            out.append(format_json_float(value))
        elif isinstance(value, str):
            out.append(self._string(value))
        elif isinstance(value, (bytes, bytearray)):
            import base64  # rare: Go encodes []byte as base64

            out.append('"' + base64.b64encode(bytes(value)).decode() + '"')
        elif is_list(value) or isinstance(value, (set, frozenset)):
            items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
            self._container("[", "]", [(None, v) for v in items], out, newline)
        elif isinstance(value, dict):
            self._container("{", "}", [(str(k), v) for k, v in sorted_items(value)], out, newline)
        else:
            self._object(value, out, newline)

    def _object(self, value, out: list[str], newline: str) -> None:
        hook = getattr(type(value), "__json__", None)
        if hook is not None:
            self._value(hook(value), out, newline)
            return
        fields = struct_fields(value)
        if fields is not None:
            self._container("{", "}", fields, out, newline)
            return
        enum_value = getattr(value, "value", MISSING) if hasattr(type(value), "__members__") else MISSING
        self._value(enum_value if enum_value is not MISSING else str(value), out, newline)

    def _container(self, open_: str, close: str, entries, out: list[str], newline: str) -> None:
        if not entries:
            out.append(open_ + close)
            return
        inner = newline + self.indent if self.indent else ""
        colon = ": " if self.indent else ":"
        out.append(open_)
        for i, (key, v) in enumerate(entries):
            if i:
                out.append(",")
            out.append(inner)
            if key is not None:
                out.append(self._string(key) + colon)
            self._value(v, out, inner or newline)
        if self.indent:
            out.append(newline)
        out.append(close)


def dumps(value, *, escape_html: bool = True, indent: str = "") -> str:
    return Encoder(escape_html=escape_html, indent=indent).encode(value)
