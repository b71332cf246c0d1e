"""The parse tree: frozen dataclasses mirroring Go's parse.Node kinds.

`pos` is the node's character offset in the template text (for the
`:line:col` of execution errors) and `__str__` gives Go's Node.String(),
which execution errors quote as `at <...>`.

Every class has a docstring on purpose: without one, dataclass() builds
it with inspect.signature(), which costs more import time than the rest
of the class (the CLI's start time is a headline number and `pallet ps`
prints a table through this package).
"""

from __future__ import annotations

from dataclasses import dataclass, fields


class _Node:
    """Shared repr/eq/hash, instead of generating them for every node class."""

    __slots__ = ()

    def _values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in fields(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))


node = dataclass(frozen=True, slots=True, repr=False, eq=False)


@node
class Text(_Node):
    """Plain text between actions."""

    pos: int
    text: str

    def __str__(self) -> str:
        return self.text


@node
class Field(_Node):
    """`.A.B` -> ident ("A", "B")."""

    pos: int
    ident: tuple[str, ...]

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@node
class Variable(_Node):
    """`$x.A` -> ident ("$x", "A"); `$` is the data passed to execute."""

    pos: int
    ident: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.ident)


@node
class Identifier(_Node):
    """A function name."""

    pos: int
    name: str

    def __str__(self) -> str:
        return self.name


@node
class Dot(_Node):
    """`.`, the cursor."""

    pos: int

    def __str__(self) -> str:
        return "."


@node
class Nil(_Node):
    """The untyped `nil`."""

    pos: int

    def __str__(self) -> str:
        return "nil"


@node
class Bool(_Node):
    """`true` or `false`."""

    pos: int
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@node
class Number(_Node):
    """A numeric literal with Go's several readings of it.

    `as_int` is set when the value is integral (5, 5.0, 'a'), for int
    parameters; untyped contexts use `value`, a float only when the text
    is written as one (1.5, 1e3).
    """

    pos: int
    text: str
    as_int: int | None
    as_float: float | None
    value: int | float

    def __str__(self) -> str:
        return self.text


@node
class String(_Node):
    """A "quoted" or `raw` string: the source text and its value."""

    pos: int
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@node
class Command(_Node):
    """One pipeline stage: an operand and its arguments."""

    pos: int
    args: tuple

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, Pipe) else str(a) for a in self.args)


@node
class Pipe(_Node):
    """`$x := cmd | cmd`: declarations (or `=` assignments) and stages."""

    pos: int
    line: int
    is_assign: bool
    decl: tuple[Variable, ...]
    cmds: tuple[Command, ...]

    def __str__(self) -> str:
        head = ""
        if self.decl:
            head = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return head + " | ".join(str(c) for c in self.cmds)


@node
class Chain(_Node):
    """`(pipeline).Field.Field`: fields applied to a non-field term."""

    pos: int
    node: object
    field: tuple[str, ...]

    def __str__(self) -> str:
        base = f"({self.node})" if isinstance(self.node, Pipe) else str(self.node)
        return base + "".join("." + f for f in self.field)


@node
class List(_Node):
    """A sequence of nodes."""

    pos: int
    nodes: tuple

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@node
class Action(_Node):
    """`{{pipeline}}`: printed unless it only declares variables."""

    pos: int
    line: int
    pipe: Pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


@node
class Branch(_Node):
    """`{{if|with|range pipeline}} list {{else}} else_list {{end}}` (Go's BranchNode)."""

    keyword: str
    pos: int
    line: int
    pipe: Pipe
    list: List
    else_list: List | None

    def __str__(self) -> str:
        text = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            text += "{{else}}" + str(self.else_list)
        return text + "{{end}}"


@node
class Jump(_Node):
    """`{{break}}` or `{{continue}}` inside a range."""

    keyword: str
    pos: int

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


@node
class Marker(_Node):
    """Parse-time only: `{{end}}` or `{{else}}`, closing an item list."""

    keyword: str
    pos: int

    def __str__(self) -> str:
        return "{{" + self.keyword + "}}"


# Operands that cannot start a later pipeline stage ("non executable command").
LITERALS = (Bool, Dot, Nil, Number, String)
