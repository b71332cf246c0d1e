"""Parser for Go's text/template: Items in, a nodes.List out.

The grammar and the error texts follow Go's text/template/parse/parse.go
(pipeline, command, operand, term; `else if` / `else with` rewritten as
nested controls; variables checked at parse time). `define`, `template`
and `block` are not supported: no --format needs named templates.
"""

from __future__ import annotations

from pallet.cli.gotemplate import lexer as L
from pallet.cli.gotemplate import nodes as N
from pallet.cli.gotemplate.errors import TemplateParseError

# Item kinds that can start a command, i.e. an operand.
_OPERAND_START = frozenset({
    L.BOOL, L.CHAR_CONSTANT, L.COMPLEX, "dot", L.FIELD, L.IDENTIFIER, L.NUMBER,
    "nil", L.RAW_STRING, L.STRING, L.VARIABLE, L.LEFT_PAREN,
})


class Parser:
    def __init__(self, text: str, name: str, functions):
        self.text = text
        self.name = name
        self.functions = functions  # anything supporting `in`
        self.items = L.Lexer(text).items()
        self.pushed: list[L.Item] = []  # look-ahead stack, top = next
        self.last_line = 1  # line of the newest item the lexer produced
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # -- token stream ----------------------------------------------------
    def next(self) -> L.Item:
        if self.pushed:
            return self.pushed.pop()
        item = next(self.items, None)
        if item is None:  # the lexer stopped after an error; keep repeating EOF
            item = L.Item(L.EOF, len(self.text), "", self.last_line)
        self.last_line = item.line
        return item

    def backup(self, *items: L.Item) -> None:
        """Push items back; the first argument is returned first."""
        self.pushed.extend(reversed(items))

    def peek(self) -> L.Item:
        item = self.next()
        self.backup(item)
        return item

    def next_non_space(self) -> L.Item:
        item = self.next()
        while item.kind == L.SPACE:
            item = self.next()
        return item

    def peek_non_space(self) -> L.Item:
        item = self.next_non_space()
        self.backup(item)
        return item

    # -- errors ----------------------------------------------------------
    def error(self, msg: str):
        raise TemplateParseError(f"template: {self.name}:{self.last_line}: {msg}")

    def unexpected(self, item: L.Item, context: str):
        if item.kind == L.ERROR:
            extra = ""
            if self.action_line and self.action_line != item.line:
                extra = f" in action started at {self.name}:{self.action_line}"
                if item.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.error(f"{item}{extra}")
        self.error(f"unexpected {item} in {context}")

    def expect(self, kind: str, context: str) -> L.Item:
        item = self.next_non_space()
        if item.kind != kind:
            self.unexpected(item, context)
        return item

    # -- grammar -------------------------------------------------------------
    def parse(self) -> N.List:
        nodes = []
        while self.peek().kind != L.EOF:
            node = self.text_or_action()
            if isinstance(node, N.Marker):
                self.error(f"unexpected {node}")
            nodes.append(node)
        return N.List(0, tuple(nodes))

    def item_list(self) -> tuple[N.List, object]:
        pos = self.peek_non_space().pos
        nodes = []
        while self.peek_non_space().kind != L.EOF:
            node = self.text_or_action()
            if isinstance(node, N.Marker):
                return N.List(pos, tuple(nodes)), node
            nodes.append(node)
        self.error("unexpected EOF")

    def text_or_action(self):
        item = self.next_non_space()
        if item.kind == L.TEXT:
            return N.Text(item.pos, item.val)
        if item.kind == L.LEFT_DELIM:
            self.action_line = item.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(item, "input")

    def action(self):
        item = self.next_non_space()
        control = _CONTROLS.get(item.kind)
        if control is not None:
            return control(self, item)
        self.backup(item)
        first = self.peek()
        return N.Action(first.pos, first.line, self.pipeline("command", L.RIGHT_DELIM))

    def unsupported(self, item: L.Item):
        self.error(f"{{{{{item.val}}}}} is not supported")

    def break_control(self, item: L.Item):
        return self._loop_control(item, "break")

    def continue_control(self, item: L.Item):
        return self._loop_control(item, "continue")

    def _loop_control(self, item: L.Item, word: str):
        token = self.next_non_space()
        if token.kind != L.RIGHT_DELIM:
            self.unexpected(token, f"{{{{{word}}}}}")
        if self.range_depth == 0:
            self.error(f"{{{{{word}}}}} outside {{{{range}}}}")
        return N.Jump(word, item.pos)

    def end_control(self, item: L.Item):
        return N.Marker("end", self.expect(L.RIGHT_DELIM, "end").pos)

    def else_control(self, item: L.Item):
        peek = self.peek_non_space()
        if peek.kind in ("if", "with"):  # "{{else if" reads as "{{else}}{{if"
            return N.Marker("else", peek.pos)
        token = self.expect(L.RIGHT_DELIM, "else")
        return N.Marker("else", token.pos)

    def if_control(self, item: L.Item):
        return N.Branch("if", *self.parse_control("if"))

    def with_control(self, item: L.Item):
        return N.Branch("with", *self.parse_control("with"))

    def range_control(self, item: L.Item):
        self.range_depth += 1
        try:
            return N.Branch("range", *self.parse_control("range"))
        finally:
            self.range_depth -= 1

    def parse_control(self, context: str):
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, L.RIGHT_DELIM)
            body, end = self.item_list()
            else_list = None
            if end.keyword == "else":
                nested = self.peek().kind
                if context in ("if", "with") and nested == context:
                    # {{else if x}} is {{else}}{{if x}}...{{end}}{{end}} with one {{end}}
                    self.next()
                    ctrl = self.if_control if context == "if" else self.with_control
                    else_list = N.List(end.pos, (ctrl(end),))
                else:
                    else_list, end = self.item_list()
                    if end.keyword != "end":
                        self.error(f"expected end; found {end}")
            return pipe.pos, pipe.line, pipe, body, else_list
        finally:
            del self.vars[mark:]

    def pipeline(self, context: str, end: str) -> N.Pipe:
        first = self.peek_non_space()
        decls: list[N.Variable] = []
        is_assign = False
        while True:  # declarations: $x := / $x = / $i, $e :=
            v = self.peek_non_space()
            if v.kind != L.VARIABLE:
                break
            self.next_non_space()
            after = self.peek()  # 3-token look-ahead: "$x foo" is an argument
            nxt = self.peek_non_space()
            if nxt.kind in (L.ASSIGN, L.DECLARE):
                is_assign = nxt.kind == L.ASSIGN
                self.next_non_space()
                decls.append(N.Variable(v.pos, (v.val,)))
                self.vars.append(v.val)
                break
            if nxt.kind == L.CHAR and nxt.val == ",":
                self.next_non_space()
                decls.append(N.Variable(v.pos, (v.val,)))
                self.vars.append(v.val)
                if context == "range" and len(decls) < 2:
                    if self.peek_non_space().kind in (L.VARIABLE, L.RIGHT_DELIM, L.RIGHT_PAREN):
                        continue
                    self.error("range can only initialize variables")
                self.error(f"too many declarations in {context}")
            if after.kind == L.SPACE:
                self.backup(v, after)
            else:
                self.backup(v)
            break
        cmds: list[N.Command] = []
        while True:
            item = self.next_non_space()
            if item.kind == end:
                self.check_pipeline(cmds, context)
                return N.Pipe(first.pos, first.line, is_assign, tuple(decls), tuple(cmds))
            if item.kind in _OPERAND_START:
                self.backup(item)
                cmds.append(self.command())
            else:
                self.unexpected(item, context)

    def check_pipeline(self, cmds, context: str) -> None:
        if not cmds:
            self.error(f"missing value for {context}")
        for i, cmd in enumerate(cmds[1:]):
            if isinstance(cmd.args[0], N.LITERALS):
                self.error(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> N.Command:
        pos = self.peek_non_space().pos
        args = []
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            item = self.next()
            if item.kind == L.SPACE:
                continue
            if item.kind in (L.RIGHT_DELIM, L.RIGHT_PAREN):
                self.backup(item)
            elif item.kind != L.PIPE:
                self.unexpected(item, "operand")
            break
        if not args:
            self.error("empty command")
        return N.Command(pos, tuple(args))

    def operand(self):
        node = self.term()
        if node is None or self.peek().kind != L.FIELD:
            return node
        pos = self.peek().pos
        fields = []
        while self.peek().kind == L.FIELD:
            fields.append(self.next().val[1:])
        if isinstance(node, N.Field):
            return N.Field(pos, node.ident + tuple(fields))
        if isinstance(node, N.Variable):
            return N.Variable(pos, node.ident + tuple(fields))
        if isinstance(node, N.LITERALS):
            self.error(f"unexpected . after term {L.go_quote(str(node))}")
        return N.Chain(pos, node, tuple(fields))

    def term(self):
        item = self.next_non_space()
        make = _TERMS.get(item.kind)
        if make is None:
            self.backup(item)
            return None
        return make(self, item)

    # -- terms ---------------------------------------------------------------
    def _identifier(self, item):
        if item.val not in self.functions:
            self.error(f"function {L.go_quote(item.val)} not defined")
        return N.Identifier(item.pos, item.val)

    def _variable(self, item):
        if item.val not in self.vars:
            self.error(f"undefined variable {L.go_quote(item.val)}")
        return N.Variable(item.pos, (item.val,))

    def _paren(self, item):
        pipe = self.pipeline("parenthesized pipeline", L.RIGHT_PAREN)
        return pipe

    def _number(self, item):
        return parse_number(self, item)

    def _string(self, item):
        return N.String(item.pos, item.val, unquote(self, item.val))


_CONTROLS = {
    "block": Parser.unsupported,
    "define": Parser.unsupported,
    "template": Parser.unsupported,
    "break": Parser.break_control,
    "continue": Parser.continue_control,
    "else": Parser.else_control,
    "end": Parser.end_control,
    "if": Parser.if_control,
    "range": Parser.range_control,
    "with": Parser.with_control,
}

_TERMS = {
    L.IDENTIFIER: Parser._identifier,
    "dot": lambda p, i: N.Dot(i.pos),
    "nil": lambda p, i: N.Nil(i.pos),
    L.VARIABLE: Parser._variable,
    L.FIELD: lambda p, i: N.Field(i.pos, (i.val[1:],)),
    L.BOOL: lambda p, i: N.Bool(i.pos, i.val == "true"),
    L.CHAR_CONSTANT: Parser._number,
    L.COMPLEX: Parser._number,
    L.NUMBER: Parser._number,
    L.LEFT_PAREN: Parser._paren,
    L.STRING: Parser._string,
    L.RAW_STRING: Parser._string,
}


# -- literals ------------------------------------------------------------------

_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def unquote(parser: Parser, quoted: str) -> str:
    """Go's strconv.Unquote for "..." and `...` literals."""
    if quoted.startswith("`"):
        return quoted[1:-1].replace("\r", "")
    body = quoted[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = body[i + 1] if i + 1 < len(body) else ""
        if e in _SIMPLE_ESCAPES or e == '"':
            out += _SIMPLE_ESCAPES.get(e, e).encode()
            i += 2
        elif e in _HEX_ESCAPES:
            n = _HEX_ESCAPES[e]
            digits = body[i + 2:i + 2 + n]
            if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
                parser.error("invalid syntax")
            value = int(digits, 16)
            if e == "x":
                out.append(value)
            elif value > 0x10FFFF or 0xD800 <= value < 0xE000:
                parser.error("invalid syntax")
            else:
                out += chr(value).encode()
            i += 2 + n
        elif e in "01234567" and e:
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or any(d not in "01234567" for d in digits) or int(digits, 8) > 255:
                parser.error("invalid syntax")
            out.append(int(digits, 8))
            i += 4
        else:
            parser.error("invalid syntax")
    return out.decode("utf-8", "replace")


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64): 0x, 0o, 0b, a leading 0 for octal, underscores."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("+-")
    if "_" in body and (body.startswith("_") or body.endswith("_") or "__" in body):
        return None
    body = body.replace("_", "")
    base = 10
    if body[:2].lower() in ("0x", "0o", "0b"):
        base, body = {"x": 16, "o": 8, "b": 2}[body[1].lower()], body[2:]
    elif len(body) > 1 and body.startswith("0"):
        base = 8
    try:
        value = sign * int(body, base)
    except ValueError:
        return None
    return value if -(1 << 63) <= value < (1 << 64) else None


def _parse_float(text: str) -> float | None:
    body = text.replace("_", "")
    try:
        if body.lstrip("+-")[:2].lower() == "0x":
            return float.fromhex(body)
        return float(body)
    except ValueError:
        return None


def parse_number(parser: Parser, item: L.Item) -> N.Number:
    text = item.val
    if item.kind == L.COMPLEX or text.endswith("i"):
        parser.error(f"complex numbers are not supported: {L.go_quote(text)}")
    if item.kind == L.CHAR_CONSTANT:
        body = text[1:-1]
        rune = "'" if body == "\\'" else unquote(parser, '"' + body + '"')
        if len(rune) != 1:
            parser.error(f"malformed character constant: {text}")
        return N.Number(item.pos, text, ord(rune), float(ord(rune)), ord(rune))
    hexa = text.lstrip("+-")[:2].lower() == "0x"
    is_float_text = "p" in text.lower() if hexa else any(c in text for c in ".eE")
    as_int = _parse_int(text)
    as_float = _parse_float(text)
    if as_int is None and as_float is not None:
        if not is_float_text:
            parser.error(f"integer overflow: {L.go_quote(text)}")
        if as_float.is_integer() and abs(as_float) < 2 ** 63:
            as_int = int(as_float)
    if as_int is None and as_float is None:
        parser.error(f"illegal number syntax: {L.go_quote(text)}")
    if as_float is None:
        as_float = float(as_int)
    value = as_float if is_float_text or as_int is None else as_int
    return N.Number(item.pos, text, as_int, as_float, value)


def parse_tree(text: str, name: str, functions) -> N.List:
    return Parser(text, name, functions).parse()
