"""How Python values stand in for Go's: kinds, type names, truth, fields.

Go distinguishes a *missing* value (a map key that is not there: an
invalid reflect.Value, printed `<no value>`, and harmless to take fields
of) from a *nil* one (JSON null, a None attribute: printed `<nil>` inside
print/printf, and an error to take fields of). MISSING is the first, None
the second.
"""

from __future__ import annotations

import dataclasses


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()

# Python type -> Go type name, for error messages ("in type string").
_TYPE_NAMES = {
    bool: "bool",
    int: "int",
    float: "float64",
    str: "string",
    bytes: "[]uint8",
    list: "[]interface {}",
    tuple: "[]interface {}",
    dict: "map[string]interface {}",
    type(None): "interface {}",
}


def type_name(value) -> str:
    name = _TYPE_NAMES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, dict):
        return "map[string]interface {}"
    cls = type(value)
    module = cls.__module__.rsplit(".", 1)[-1]
    return f"*{module}.{cls.__qualname__}"


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_list(value) -> bool:
    return isinstance(value, (list, tuple))


def is_struct(value) -> bool:
    """An object whose attributes are template fields (Go: a struct)."""
    return not isinstance(value, _NOT_STRUCTS) and value is not MISSING


_NOT_STRUCTS = (str, bytes, int, float, list, tuple, dict, set, frozenset, type(None))


def truth(value) -> bool:
    """Go's isTrue: empty and zero values are false, structs always true."""
    if value is None or value is MISSING:
        return False
    if isinstance(value, (bool, int, float)):
        return value != 0
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return len(value) > 0
    return True


def sorted_items(mapping: dict) -> list:
    """Map entries in Go's order: keys sorted (numbers numerically, strings bytewise)."""
    return sorted(mapping.items(), key=lambda kv: _sort_key(kv[0]))


def _sort_key(key):
    if is_number(key) or isinstance(key, bool):
        return (0, key, "")
    return (1, 0, str(key))


def struct_fields(value) -> list[tuple[str, object]] | None:
    """(name, value) of an object's public fields, for %v and json: a
    dataclass's fields in declaration order, else its instance attributes
    in assignment order; None for objects that have neither."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value)
                if not f.name.startswith("_")]
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict) and not isinstance(value, (type, _MODULE_TYPE)) and not callable(value):
        return [(k, v) for k, v in attrs.items() if not k.startswith("_")]
    return None


_MODULE_TYPE = type(dataclasses)
