"""Go's fmt for template values: %v printing, Sprint, Sprintln, Sprintf.

Covers the verbs templates use: %v %s %q %d %x %X %o %O %b %c %U %t
%e %E %f %F %g %G %%, flags `+ - # 0 space`, width and precision
(also `*`), and Go's error notes: %!d(string=x), %!s(MISSING),
%!(EXTRA int=1), %!(NOVERB).
"""

from __future__ import annotations

from pallet.cli.gotemplate.values import (
    MISSING, is_int, is_list, sorted_items, struct_fields, type_name,
)

# -- strconv.Quote ---------------------------------------------------------------

_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                  "\t": "\\t", "\v": "\\v", "\\": "\\\\"}


def quote(s: str, quote_char: str = '"', ascii_only: bool = False) -> str:
    out = [quote_char]
    for c in s:
        if c == quote_char:
            out.append("\\" + c)
        elif c in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[c])
        elif c.isprintable() and (c.isascii() or not ascii_only):
            out.append(c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append(quote_char)
    return "".join(out)


# -- floats ---------------------------------------------------------------------------


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of abs(f) and the decimal point position."""
    mant, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mant.partition(".")
    digits = whole + frac
    point = len(whole) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    return digits or "0", point if digits else 1


def _fixed(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(digits: str, point: int, e: str = "e") -> str:
    exp = point - 1 if digits != "0" else 0
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{mant}{e}{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _special(f: float) -> str | None:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    return None


def format_float_shortest(f: float, upper: bool = False) -> str:
    """Go's %v (and %g without precision): shortest digits; %e form when the
    exponent is < -4 or >= 6 (strconv's 'g' uses precision 6 for that
    decision when printing the shortest form), so 1e6 prints as 1e+06."""
    special = _special(f)
    if special:
        return special
    digits, point = _digits(f)
    exp = point - 1
    if exp < -4 or exp >= 6:
        body = _exponent(digits, point, "E" if upper else "e")
    else:
        body = _fixed(digits, point)
    return ("-" if _negative(f) else "") + body


def _negative(f: float) -> bool:
    return f < 0 or (f == 0 and str(f).startswith("-"))


def format_json_float(f: float) -> str:
    """encoding/json: fixed notation, %e (e-7 not e-07) below 1e-6 and from 1e21."""
    digits, point = _digits(f)
    sign = "-" if f < 0 else ""
    if f != 0 and (abs(f) < 1e-6 or abs(f) >= 1e21):
        body = _exponent(digits, point)
        mant, _, exp = body.partition("e")
        return sign + mant + "e" + exp[0] + exp[1:].lstrip("0").rjust(1, "0")
    return sign + _fixed(digits, point)


# -- the formatter --------------------------------------------------------------------


class Spec:
    """One conversion's flags, width and precision (mutable while parsing it)."""

    __slots__ = ("minus", "plus", "plus_v", "sharp", "space", "zero", "width", "prec")

    def __init__(self, *, minus: bool = False, width: int | None = None):
        self.minus = minus
        self.plus = self.sharp = self.space = self.zero = False
        self.plus_v = False  # %+v: field names on structs, no sign on numbers
        self.width = width
        self.prec: int | None = None

    def pad(self, s: str) -> str:
        if self.width is None or len(s) >= self.width:
            return s
        fill = self.width - len(s)
        if self.minus:
            return s + " " * fill
        return ("0" if self.zero else " ") * fill + s

    def pad_number(self, s: str) -> str:
        """Zero padding goes after the sign, as in Go."""
        if self.zero and not self.minus and self.width and s[:1] in "+- " and s[:1]:
            return s[0] + s[1:].rjust(self.width - 1, "0")
        return self.pad(s)

    def sign(self, negative: bool) -> str:
        return "-" if negative else "+" if self.plus else " " if self.space else ""


PLAIN = Spec()


def _bad(verb: str, value) -> str:
    if value is None or value is MISSING:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({type_name(value)}={format_value(value)})"


def _fmt_bool(value: bool, verb: str, spec: Spec) -> str:
    if verb not in "tv":
        return _bad(verb, value)
    return spec.pad("true" if value else "false")


_INT_BASES = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}


def _fmt_int(value: int, verb: str, spec: Spec) -> str:
    if verb == "c":
        return spec.pad(chr(value))
    if verb == "q":
        return spec.pad(quote(chr(value), "'", spec.plus))
    if verb == "U":
        text = f"U+{value:04X}"
        return spec.pad(text + (f" '{chr(value)}'" if spec.sharp else ""))
    base = _INT_BASES.get(verb)
    if base is None:
        return _bad(verb, value)
    digits = format(abs(value), {10: "d", 2: "b", 8: "o", 16: "x"}[base])
    if verb == "X":
        digits = digits.upper()
    if spec.prec is not None:
        digits = "" if spec.prec == 0 and value == 0 else digits.rjust(spec.prec, "0")
    prefix = ""
    if verb == "O" or (spec.sharp and base == 8 and verb == "o"):
        prefix = "0o" if verb == "O" else "0"
    elif spec.sharp and base != 10:
        prefix = {2: "0b", 16: "0x" if verb == "x" else "0X"}[base]
    body = spec.sign(value < 0) + prefix + digits
    if spec.prec is not None:  # precision disables zero padding
        return Spec(minus=spec.minus, width=spec.width).pad(body)
    if spec.zero and not spec.minus and spec.width:
        head = spec.sign(value < 0) + prefix
        return head + digits.rjust(spec.width - len(head), "0")
    return spec.pad(body)


def _fmt_float(value: float, verb: str, spec: Spec) -> str:
    if verb not in "vgGeEfF":
        return _bad(verb, value)
    special = _special(value)
    if special:  # Go: +Inf, -Inf, NaN; never zero padded
        return Spec(minus=spec.minus, width=spec.width).pad(special)
    if verb in "vgG" and spec.prec is None:
        body = format_float_shortest(abs(value), verb == "G")
    else:
        prec = 6 if spec.prec is None else spec.prec
        body = format(abs(value), f".{prec}{'g' if verb == 'v' else verb}")
    return spec.pad_number(spec.sign(_negative(value)) + body)


def _fmt_string(value: str, verb: str, spec: Spec) -> str:
    if verb in "vs":
        text = value if spec.prec is None else value[:spec.prec]
        return spec.pad(text)
    if verb == "q":
        if spec.sharp and "`" not in value and all(c == "\t" or c.isprintable() for c in value):
            return spec.pad("`" + value + "`")
        return spec.pad(quote(value, '"', spec.plus))
    if verb in "xX":
        data = value.encode()
        if spec.prec is not None:
            data = data[:spec.prec]
        sep = " " if spec.space else ""
        text = sep.join(f"{b:02x}" for b in data)
        if spec.sharp:
            text = sep.join("0x" + f"{b:02x}" for b in data) if spec.space else "0x" + text
        return spec.pad(text.upper() if verb == "X" else text)
    return _bad(verb, value)


def _fmt_nil(value, verb: str, spec: Spec) -> str:
    if verb == "v":
        return spec.pad("<nil>")
    return _bad(verb, None)


def _fmt_list(value, verb: str, spec: Spec) -> str:
    return "[" + " ".join(format_arg(v, verb, spec) for v in value) + "]"


def _fmt_bytes(value: bytes, verb: str, spec: Spec) -> str:
    if verb in "sqxX":
        return _fmt_string(value.decode("utf-8", "replace"), verb, spec)
    return _fmt_list(list(value), verb, spec)


def _fmt_map(value: dict, verb: str, spec: Spec) -> str:
    return "map[" + " ".join(
        format_arg(k, verb, spec) + ":" + format_arg(v, verb, spec) for k, v in sorted_items(value)
    ) + "]"


def _fmt_object(value, verb: str, spec: Spec) -> str:
    fields = struct_fields(value)
    if fields is None or type(value).__str__ is not object.__str__:
        # A class with its own __str__ is a Go Stringer: %v and %s print it.
        if verb in "vs":
            return spec.pad(str(value))
        if verb == "q":
            return spec.pad(quote(str(value)))
        return _bad(verb, value)
    # A struct: {v1 v2}, or {Name:v1 Age:v2} with %+v (dataclasses only
    # generate __repr__, so they land here rather than as Stringers).
    parts = [(f"{name}:" if spec.plus_v else "") + format_arg(v, verb, spec) for name, v in fields]
    return "{" + " ".join(parts) + "}"


def format_arg(value, verb: str = "v", spec: Spec = PLAIN) -> str:
    """One operand as Go's fmt prints it with `verb`."""
    if value is None or value is MISSING:
        return _fmt_nil(value, verb, spec)
    if isinstance(value, bool):
        return _fmt_bool(value, verb, spec)
    if is_int(value):
        return _fmt_int(value, verb, spec)
    if isinstance(value, float):
        return _fmt_float(value, verb, spec)
    if isinstance(value, str):
        return _fmt_string(value, verb, spec)
    if isinstance(value, (bytes, bytearray)):
        return _fmt_bytes(bytes(value), verb, spec)
    if is_list(value):
        return _fmt_list(value, verb, spec)
    if isinstance(value, dict):
        return _fmt_map(value, verb, spec)
    return _fmt_object(value, verb, spec)


def format_value(value) -> str:
    """%v."""
    return format_arg(value, "v", PLAIN)


def sprint(args) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    prev_string = False
    for i, arg in enumerate(args):
        is_string = isinstance(arg, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(arg))
        prev_string = is_string
    return "".join(out)


def sprintln(args) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


_FLAGS = {"-": "minus", "+": "plus", "#": "sharp", " ": "space", "0": "zero"}


def sprintf(fmt: str, args) -> str:
    out = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        spec = Spec()
        while i < n and fmt[i] in _FLAGS:
            setattr(spec, _FLAGS[fmt[i]], True)
            i += 1
        spec.width, i, argi, bad_width = _number_or_star(fmt, i, args, argi)
        if bad_width:
            out.append("%!(BADWIDTH)")
        if spec.width is not None and spec.width < 0:
            spec.minus, spec.width = True, -spec.width
        if i < n and fmt[i] == ".":
            i += 1
            spec.prec, i, argi, bad_prec = _number_or_star(fmt, i, args, argi)
            if bad_prec:
                out.append("%!(BADPREC)")
            if spec.prec is None:
                spec.prec = 0
            if spec.prec < 0:
                spec.prec = None
        if spec.minus:
            spec.zero = False
        if i < n and fmt[i] == "v" and spec.plus:
            spec.plus, spec.plus_v = False, True
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        out.append(format_arg(args[argi], verb, spec))
        argi += 1
    if argi < len(args):
        extra = ", ".join("<nil>" if a is None else f"{type_name(a)}={format_value(a)}"
                          for a in args[argi:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _number_or_star(fmt: str, i: int, args, argi: int):
    if i < len(fmt) and fmt[i] == "*":
        if argi < len(args) and is_int(args[argi]):
            return args[argi], i + 1, argi + 1, False
        return None, i + 1, argi + 1, True
    j = i
    while j < len(fmt) and fmt[j].isdigit():
        j += 1
    return (int(fmt[i:j]) if j > i else None), j, argi, False
