"""`value`: a small frozen-record decorator for the engine's data (ContainerConfig, rows, plans).

Why not dataclasses: `import dataclasses` pulls in `inspect` and each class is
built with exec(); together ~20 ms of every `pallet ps` and `pallet run`, whose
start time is a headline number. Fields are the class's annotations in order;
positional and keyword arguments; defaults as class attributes (a dict or list
default is copied per instance); instances are immutable, comparable, hashable
when their fields are, and printable.

    @value
    class Ulimit:
        name: str
        soft: int
        hard: int

    u = Ulimit("core", 0, 0); u.replace(soft=1); as_dict(u)
"""

from __future__ import annotations

_MISSING = object()


def value(cls):
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        for name in klass.__dict__.get("__annotations__", {}):
            if name not in names and not name.startswith("_"):
                names.append(name)
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    for n in defaults:
        delattr(cls, n)  # keep defaults out of the class so attribute reads hit the instance
    fields = tuple(names)

    def __init__(self, *args, **kw):
        if len(args) > len(fields):
            raise TypeError(f"{cls.__name__}: too many arguments")
        set_ = object.__setattr__
        for n, v in zip(fields, args):
            if n in kw:
                raise TypeError(f"{cls.__name__}: {n!r} given twice")
            set_(self, n, v)
        for n in fields[len(args):]:
            v = kw.pop(n, _MISSING)
            if v is _MISSING:
                v = defaults.get(n, _MISSING)
                if v is _MISSING:
                    raise TypeError(f"{cls.__name__}: missing field {n!r}")
                if isinstance(v, (dict, list)):
                    v = type(v)(v)
            set_(self, n, v)
        if kw:
            raise TypeError(f"{cls.__name__}: unknown fields {sorted(kw)}")
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def __setattr__(self, name, val):
        raise AttributeError(f"{cls.__name__} is frozen: cannot set {name}")

    def __repr__(self):
        return f"{cls.__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in fields) + ")"

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in fields)

    def __hash__(self):
        return hash(tuple(getattr(self, n) for n in fields))

    def replace(self, **changes):
        vals = {n: getattr(self, n) for n in fields}
        vals.update(changes)
        return cls(**vals)

    cls.__init__ = __init__
    cls.__setattr__ = __setattr__
    cls.__repr__ = __repr__
    cls.__eq__ = __eq__
    cls.__hash__ = __hash__
    cls.replace = replace
    cls.__value_fields__ = fields
    return cls


def fields_of(obj_or_cls) -> tuple[str, ...]:
    return obj_or_cls.__value_fields__


def as_dict(obj):
    """Recursively: value instances to dicts, tuples to lists (JSON-ready)."""
    if hasattr(type(obj), "__value_fields__"):
        return {n: as_dict(getattr(obj, n)) for n in obj.__value_fields__}
    if isinstance(obj, (list, tuple)):
        return [as_dict(x) for x in obj]
    if isinstance(obj, dict):
        return {k: as_dict(v) for k, v in obj.items()}
    return obj
