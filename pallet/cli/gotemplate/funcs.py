"""Template functions: Go's builtins, Docker's additions, Docker's header set.

Each function is a FuncSpec: the Python callable and Go's parameter types,
which the evaluator uses for Go's arity and type errors ("wrong number of
args for join: want 2 got 1", "expected integer; found ..."). Parameter
types: "any" (interface{}: a missing value arrives as None), "value"
(reflect.Value: MISSING arrives as is), "string", "int", "[]string".

A function signals a failure by raising FuncError; the evaluator reports it
as Go does: `error calling index: index out of range: 5`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pallet.cli.gotemplate import gofmt
from pallet.cli.gotemplate.values import (
    MISSING, is_int, is_list, is_number, truth, type_name,
)


class FuncError(Exception):
    """A template function failed; the message is Go's."""


@dataclass(frozen=True, slots=True)
class FuncSpec:
    """A template function and its Go signature."""

    fn: Callable | None
    params: tuple[str, ...]
    variadic: bool = False  # the last param repeats (Go's ...T)
    short_circuit: bool = False  # and/or: arguments evaluated lazily by the evaluator


# -- comparisons (Go's eq/lt and their basic kinds) -------------------------------

_BAD_COMPARISON = "incompatible types for comparison"
_BAD_COMPARISON_TYPE = "invalid type for comparison"


def _kind(value) -> str | None:
    if value is None or value is MISSING:
        return None
    if isinstance(value, bool):
        return "bool"
    if is_number(value):
        return "number"  # int and float compare with each other (Go would refuse)
    if isinstance(value, str):
        return "string"
    return "other"


def _eq(arg1, *args) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if k1 is not None and k2 is not None:
                raise FuncError(_BAD_COMPARISON)
            continue  # a missing value equals nothing but another missing one
        if k1 is None:
            return True
        if k1 == "other" and (isinstance(arg1, (list, tuple, dict)) or isinstance(arg, (list, tuple, dict))):
            raise FuncError(f"non-comparable type {gofmt.format_value(arg)}: {type_name(arg)}")
        if arg1 == arg:
            return True
    return False


def _lt(a, b) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in (None, "bool", "other") or kb in (None, "bool", "other"):
        raise FuncError(_BAD_COMPARISON_TYPE)
    if ka != kb:
        raise FuncError(_BAD_COMPARISON)
    return a < b


def _le(a, b) -> bool:
    return _lt(a, b) or _eq(a, b)


_COMPARISONS = {
    "eq": FuncSpec(_eq, ("value", "value"), variadic=True),
    "ne": FuncSpec(lambda a, b: not _eq(a, b), ("value", "value")),
    "lt": FuncSpec(_lt, ("value", "value")),
    "le": FuncSpec(_le, ("value", "value")),
    "gt": FuncSpec(lambda a, b: not _le(a, b), ("value", "value")),
    "ge": FuncSpec(lambda a, b: not _lt(a, b), ("value", "value")),
}


# -- index, slice, len ------------------------------------------------------------

def _index_arg(index, cap: int) -> int:
    if index is None or index is MISSING:
        raise FuncError("cannot index slice/array with nil")
    if not is_int(index):
        raise FuncError(f"cannot index slice/array with type {type_name(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def _missing_entry(mapping: dict):
    """The zero value Go returns for an absent key: "" for string-valued
    maps (labels, options: map[string]string in Docker's types), nothing
    (`<no value>`) for maps of mixed values (map[string]interface{})."""
    if all(isinstance(v, str) for v in mapping.values()):
        return ""
    return None


def _index(item, *indexes):
    if item is None or item is MISSING:
        raise FuncError("index of untyped nil")
    for index in indexes:
        if item is None or item is MISSING:
            raise FuncError("index of nil pointer")
        if isinstance(item, (str, bytes)) or is_list(item):
            x = _index_arg(index, len(item))
            if x == len(item):
                raise FuncError(f"index out of range: {x}")
            # A string indexes to a number, as Go's byte does (by character here).
            item = ord(item[x]) if isinstance(item, str) else item[x]
        elif isinstance(item, dict):
            if index is MISSING or index is None:
                raise FuncError("value is nil; should be of type string")
            if index in item:
                item = item[index]
            elif not isinstance(index, str) and any(isinstance(k, str) for k in item):
                raise FuncError(f"value has type {type_name(index)}; should be string")
            else:
                item = _missing_entry(item)
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def _slice(item, *indexes):
    if item is None or item is MISSING:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
    elif not is_list(item):
        raise FuncError(f"can't slice item of type {type_name(item)}")
    idx = [0, len(item), len(item)]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, len(item))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    return item[idx[0]:idx[1]]


def _len(item) -> int:
    if item is None or item is MISSING:
        raise FuncError("len of nil pointer")
    if isinstance(item, (str, bytes, list, tuple, dict)):
        return len(item)
    raise FuncError(f"len of type {type_name(item)}")


# -- printing and escaping --------------------------------------------------------

def _eval_args(args) -> str:
    """Go's evalArgs: the lone string as is, else Sprint with missing as <no value>."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return gofmt.sprint(["<no value>" if a is None or a is MISSING else a for a in args])


_HTML = str.maketrans({'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;",
                       "\0": "\ufffd"})


def _html(*args) -> str:
    return _eval_args(args).translate(_HTML)


_JS_SPECIAL = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E",
               "&": "\\u0026", "=": "\\u003D"}


def _js(*args) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS_SPECIAL:
            out.append(_JS_SPECIAL[c])
        elif ord(c) < 0x20 or (not c.isascii() and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _urlquery(*args) -> str:
    out = []
    for c in _eval_args(args):
        if c in _URL_SAFE:
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.extend(f"%{b:02X}" for b in c.encode())
    return "".join(out)


def _call(fn, *args):
    if fn is None or fn is MISSING:
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function {gofmt.format_value(fn)} of type {type_name(fn)}")
    return fn(*[None if a is MISSING else a for a in args])


BUILTINS: dict[str, FuncSpec] = {
    "and": FuncSpec(None, ("value", "value"), variadic=True, short_circuit=True),
    "or": FuncSpec(None, ("value", "value"), variadic=True, short_circuit=True),
    "not": FuncSpec(lambda v: not truth(v), ("value",)),
    "len": FuncSpec(_len, ("value",)),
    "index": FuncSpec(_index, ("value", "value"), variadic=True),
    "slice": FuncSpec(_slice, ("value", "value"), variadic=True),
    "print": FuncSpec(lambda *a: gofmt.sprint(a), ("any",), variadic=True),
    "printf": FuncSpec(lambda f, *a: gofmt.sprintf(f, a), ("string", "any"), variadic=True),
    "println": FuncSpec(lambda *a: gofmt.sprintln(a), ("any",), variadic=True),
    "html": FuncSpec(_html, ("any",), variadic=True),
    "js": FuncSpec(_js, ("any",), variadic=True),
    "urlquery": FuncSpec(_urlquery, ("any",), variadic=True),
    "call": FuncSpec(_call, ("value", "value"), variadic=True),
    **_COMPARISONS,
}


# -- Docker's functions (docker/cli templates.basicFunctions) ----------------------

def _json(value) -> str:
    from pallet.cli.gotemplate.gojson import UnsupportedValue, dumps

    try:
        return dumps(value, escape_html=False)
    except UnsupportedValue:
        return ""  # Docker ignores the encoder's error and prints nothing


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def _join(items, sep: str) -> str:
    return sep.join(i if isinstance(i, str) else gofmt.format_value(i) for i in items)


def _is_separator(c: str) -> bool:
    # strings.Title's word boundaries
    if c.isascii():
        return not (c.isalnum() or c == "_")
    if c.isalpha() or c.isdigit():
        return False
    return c.isspace()


def _title(s: str) -> str:
    """strings.Title: upper-case the first letter of each word, leave the rest."""
    out = []
    prev = " "
    for c in s:
        out.append(c.upper() if _is_separator(prev) else c)
        prev = c
    return "".join(out)


def _pad(s: str, prefix: int, suffix: int) -> str:
    if s == "":
        return s
    if prefix < 0 or suffix < 0:
        raise FuncError("strings: negative Repeat count")
    return " " * prefix + s + " " * suffix


def _truncate(s: str, length: int) -> str:
    if length < 0:
        raise FuncError(f"runtime error: slice bounds out of range [:{length}]")
    return s[:length]  # by character, where Docker cuts bytes


DOCKER: dict[str, FuncSpec] = {
    "json": FuncSpec(_json, ("any",)),
    "split": FuncSpec(_split, ("string", "string")),
    "join": FuncSpec(_join, ("[]string", "string")),
    "title": FuncSpec(_title, ("string",)),
    "lower": FuncSpec(str.lower, ("string",)),
    "upper": FuncSpec(str.upper, ("string",)),
    "pad": FuncSpec(_pad, ("string", "int", "int")),
    "truncate": FuncSpec(_truncate, ("string", "int")),
}

FUNCTIONS: dict[str, FuncSpec] = {**BUILTINS, **DOCKER}

# Docker's templates.HeaderFunctions: while a table's header row is rendered
# these keep the column name intact (`{{.Names | join ","}}` heads "NAMES").
# pad is deliberately not replaced, so the header aligns like the cells.
# index and slice are pallet's additions: in Docker `{{index .Labels "x"}}`
# fails on the column name and cuts the header row short.
HEADER_FUNCTIONS: dict[str, FuncSpec] = {
    **FUNCTIONS,
    "index": FuncSpec(lambda v, *_: v, ("value", "value"), variadic=True),
    "slice": FuncSpec(lambda v, *_: v, ("value", "value"), variadic=True),
    "json": FuncSpec(lambda v: v, ("string",)),
    "split": FuncSpec(lambda v, _: v, ("string", "string")),
    "join": FuncSpec(lambda v, _: v, ("string", "string")),
    "title": FuncSpec(lambda v: v, ("string",)),
    "lower": FuncSpec(lambda v: v, ("string",)),
    "upper": FuncSpec(lambda v: v, ("string",)),
    "truncate": FuncSpec(lambda v, _: v, ("string", "int")),
}
