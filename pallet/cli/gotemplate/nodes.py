"""The parse tree: one frozen dataclass per Go parse.Node kind.

`pos` is the node's character offset in the template text (for the
`:line:col` of execution errors) and `__str__` gives Go's Node.String(),
which execution errors quote as `at <...>`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


class _Node:
    """Shared repr/eq/hash: generating them for each of ~20 node classes
    costs more import time than all of the parser (the CLI's start time is
    a headline number and `pallet ps` prints a table)."""

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
    pos: int
    text: str

    def __str__(self) -> str:
        return self.text


@node
class Field(_Node):
    pos: int
    ident: tuple[str, ...]  # ".A.B" -> ("A", "B")

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


@node
class Variable(_Node):
    pos: int
    ident: tuple[str, ...]  # "$x.A" -> ("$x", "A")

    def __str__(self) -> str:
        return ".".join(self.ident)


@node
class Identifier(_Node):
    pos: int
    name: str

    def __str__(self) -> str:
        return self.name


@node
class Dot(_Node):
    pos: int

    def __str__(self) -> str:
        return "."


@node
class Nil(_Node):
    pos: int

    def __str__(self) -> str:
        return "nil"


@node
class Bool(_Node):
    pos: int
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@node
class Number(_Node):
    """A numeric literal with Go's several readings of it.

    `as_int` is set when the value is integral (5, 5.0, 'a'); `as_float`
    when it is a float literal or fits one. Untyped contexts use
    `value`: a float only when the text is written as a float (1.5, 1e3).
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
    pos: int
    quoted: str
    text: str

    def __str__(self) -> str:
        return self.quoted


@node
class Command(_Node):
    pos: int
    args: tuple

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, Pipe) else str(a) for a in self.args)


@node
class Pipe(_Node):
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
    pos: int
    nodes: tuple

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


@node
class Action(_Node):
    pos: int
    line: int
    pipe: Pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


def _control(keyword: str, node) -> str:
    text = "{{" + keyword + " " + str(node.pipe) + "}}" + str(node.list)
    if node.else_list is not None:
        text += "{{else}}" + str(node.else_list)
    return text + "{{end}}"


@node
class If(_Node):
    pos: int
    line: int
    pipe: Pipe
    list: List
    else_list: List | None

    def __str__(self) -> str:
        return _control("if", self)


@node
class With(_Node):
    pos: int
    line: int
    pipe: Pipe
    list: List
    else_list: List | None

    def __str__(self) -> str:
        return _control("with", self)


@node
class Range(_Node):
    pos: int
    line: int
    pipe: Pipe
    list: List
    else_list: List | None

    def __str__(self) -> str:
        return _control("range", self)


@node
class Break(_Node):
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{break}}"


@node
class Continue(_Node):
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{continue}}"


# Parse-time only: the parser returns these to close an item list.
@node
class End(_Node):
    pos: int

    def __str__(self) -> str:
        return "{{end}}"


@node
class Else(_Node):
    pos: int
    line: int

    def __str__(self) -> str:
        return "{{else}}"


# Operands that cannot start a later pipeline stage ("non executable command").
LITERALS = (Bool, Dot, Nil, Number, String)
