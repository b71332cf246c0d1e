"""Lexer for Go's text/template, lazy like Go's.

The lexer is a generator of Items. It must stay lazy: the parser reports
the first problem *it* meets, so `{{.Foo}` reads as `unexpected "}" in
operand` (the parser sees the stray "}" before the lexer reaches the end
and would say "unclosed action"). Item kinds and error texts follow Go's
text/template/parse/lex.go.
"""

from __future__ import annotations

from pallet.cli.gotemplate.gofmt import quote

# Item kinds. Keywords print as <kw> in errors, everything else quoted.
ERROR, BOOL, CHAR, CHAR_CONSTANT, COMPLEX, ASSIGN, DECLARE, EOF = (
    "error", "bool", "char", "charconst", "complex", "=", ":=", "EOF")
FIELD, IDENTIFIER, LEFT_DELIM, LEFT_PAREN, NUMBER, PIPE = (
    "field", "identifier", "{{", "(", "number", "|")
RAW_STRING, RIGHT_DELIM, RIGHT_PAREN, SPACE, STRING, TEXT, VARIABLE = (
    "rawstring", "}}", ")", "space", "string", "text", "variable")
# Keywords (Go: kinds after itemKeyword).
KEYWORDS = {
    ".": "dot", "block": "block", "break": "break", "continue": "continue",
    "define": "define", "else": "else", "end": "end", "if": "if",
    "range": "range", "nil": "nil", "template": "template", "with": "with",
}
KEYWORD_KINDS = frozenset(KEYWORDS.values())

LEFT, RIGHT = "{{", "}}"
LEFT_COMMENT, RIGHT_COMMENT = "/*", "*/"
SPACE_CHARS = " \t\r\n"  # Go's own definition of space, used for trimming too
TERMINATORS = frozenset(" \t\r\n.,|:)(")


class Item:
    """One token. A plain slotted class: tokens are made by the thousand."""

    __slots__ = ("kind", "pos", "val", "line")

    def __init__(self, kind: str, pos: int, val: str, line: int):
        self.kind = kind
        self.pos = pos  # character offset of the item in the template
        self.val = val
        self.line = line

    def __repr__(self) -> str:
        return f"Item({self.kind!r}, {self.pos}, {self.val!r}, {self.line})"

    def __str__(self) -> str:
        if self.kind == EOF:
            return "EOF"
        if self.kind == ERROR:
            return self.val
        if self.kind in KEYWORD_KINDS:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def go_quote(s: str) -> str:
    """Go's %q, as error messages quote tokens."""
    return quote(s)


def is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


def _has_left_trim(s: str, i: int) -> bool:
    return s.startswith("-", i) and i + 1 < len(s) and s[i + 1] in SPACE_CHARS


def _has_right_trim(s: str, i: int) -> bool:
    return i + 1 < len(s) and s[i] in SPACE_CHARS and s[i + 1] == "-"


def _rune_name(c: str) -> str:
    # Go's %#U: U+007D '}'
    return f"U+{ord(c):04X} '{c}'"


class Lexer:
    """Scans `text` into Items; `items()` is the generator the parser pulls."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.start = 0
        self.line = 1
        self.start_line = 1
        self.paren_depth = 0

    # -- primitives ---------------------------------------------------
    def _emit(self, kind: str) -> Item:
        item = Item(kind, self.start, self.text[self.start:self.pos], self.start_line)
        self._ignore()
        return item

    def _ignore(self) -> None:
        self.line += self.text.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def _error(self, msg: str) -> Item:
        return Item(ERROR, self.start, msg, self.start_line)

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _next(self) -> str:
        c = self._peek()
        if c:
            self.pos += 1
        return c

    def _accept(self, valid: str) -> bool:
        c = self._peek()
        if c and c in valid:
            self.pos += 1
            return True
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _at_terminator(self) -> bool:
        # Breaks .X.Y into two pieces; the first rune of "}}" also ends a word,
        # which is why `{{.Foo}` reports the stray "}" and not "bad character".
        c = self._peek()
        return c == "" or c in TERMINATORS or c == RIGHT[0]

    def _at_right_delim(self) -> tuple[bool, bool]:
        if self.text.startswith(RIGHT, self.pos):
            return True, False
        if _has_right_trim(self.text, self.pos) and self.text.startswith(RIGHT, self.pos + 2):
            return True, True
        return False, False

    # -- the scan -------------------------------------------------------
    def items(self):
        """Yield Items up to EOF or the first ERROR item."""
        text = self.text
        while True:
            x = text.find(LEFT, self.pos)
            if x < 0:
                self.pos = len(text)
                if self.pos > self.start:
                    yield self._emit(TEXT)
                yield self._emit(EOF)
                return
            self.pos = x
            trim = _has_left_trim(text, x + 2)
            if trim:
                self.pos -= len(text[self.start:x]) - len(text[self.start:x].rstrip(SPACE_CHARS))
            if self.pos > self.start:
                yield self._emit(TEXT)
            self.pos = x
            self._ignore()
            # left delimiter
            self.pos += 2
            after = 2 if trim else 0
            if text.startswith(LEFT_COMMENT, self.pos + after):
                self.pos += after
                self._ignore()
                err = self._comment()
                if err:
                    yield err
                    return
                continue
            yield self._emit(LEFT_DELIM)
            self.pos += after
            self._ignore()
            self.paren_depth = 0
            for item in self._inside_action():
                yield item
                if item.kind == ERROR:
                    return

    def _comment(self) -> Item | None:
        self.pos += 2
        i = self.text.find(RIGHT_COMMENT, self.pos)
        if i < 0:
            return self._error("unclosed comment")
        self.pos = i + 2
        delim, trim = self._at_right_delim()
        if not delim:
            return self._error("comment ends before closing delimiter")
        self.pos += (2 if trim else 0) + 2
        if trim:
            self._skip_leading_space()
        self._ignore()
        return None

    def _skip_leading_space(self) -> None:
        rest = self.text[self.pos:]
        self.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))

    def _right_delim(self) -> Item:
        trim = _has_right_trim(self.text, self.pos)
        if trim:
            self.pos += 2
            self._ignore()
        self.pos += 2
        item = self._emit(RIGHT_DELIM)
        if trim:
            self._skip_leading_space()
            self._ignore()
        return item

    def _inside_action(self):
        while True:
            delim, _ = self._at_right_delim()
            if delim:
                if self.paren_depth == 0:
                    yield self._right_delim()
                    return
                yield self._error("unclosed left paren")
                return
            c = self._next()
            scanner = _ACTION_TABLE.get(c)
            if scanner is None:
                if c == "":
                    yield self._error("unclosed action")
                    return
                if c in SPACE_CHARS:
                    scanner = Lexer._space
                elif c.isdigit() or c in "+-":
                    scanner = Lexer._number
                elif is_alnum(c):
                    scanner = Lexer._identifier
                elif c.isascii() and c.isprintable():
                    scanner = Lexer._char
                else:
                    yield self._error(f"unrecognized character in action: {_rune_name(c)}")
                    return
            item = scanner(self)
            if item is not None:
                yield item
                if item.kind in (ERROR, RIGHT_DELIM):
                    return

    # Each scanner is entered with the first rune consumed.
    def _space(self) -> Item | None:
        n = 1
        while self._peek() and self._peek() in SPACE_CHARS:
            self.pos += 1
            n += 1
        # " -}}": the last space belongs to the trim marker.
        if _has_right_trim(self.text, self.pos - 1) and self.text.startswith(RIGHT, self.pos + 1):
            self.pos -= 1
            if n == 1:
                return None
        return self._emit(SPACE)

    def _char(self) -> Item:
        return self._emit(CHAR)

    def _assign(self) -> Item:
        return self._emit(ASSIGN)

    def _colon(self) -> Item:
        if self._next() != "=":
            return self._error("expected :=")
        return self._emit(DECLARE)

    def _pipe(self) -> Item:
        return self._emit(PIPE)

    def _lparen(self) -> Item:
        self.paren_depth += 1
        return self._emit(LEFT_PAREN)

    def _rparen(self) -> Item:
        self.paren_depth -= 1
        if self.paren_depth < 0:
            return self._error("unexpected right paren")
        return self._emit(RIGHT_PAREN)

    def _dot(self) -> Item:
        if self._peek().isdigit():  # '.5' is a number
            self.pos -= 1
            return self._number()
        return self._field_or_variable(FIELD)

    def _dollar(self) -> Item:
        if self._at_terminator():
            return self._emit(VARIABLE)
        return self._field_or_variable(VARIABLE)

    def _field_or_variable(self, kind: str) -> Item:
        if self._at_terminator():  # a lone "." or "$"
            return self._emit(VARIABLE if kind == VARIABLE else "dot")
        while is_alnum(self._peek()):
            self.pos += 1
        if not self._at_terminator():
            return self._error(f"bad character {_rune_name(self._peek())}")
        return self._emit(kind)

    def _identifier(self) -> Item:
        while is_alnum(self._peek()):
            self.pos += 1
        if not self._at_terminator():
            return self._error(f"bad character {_rune_name(self._peek())}")
        word = self.text[self.start:self.pos]
        if word in KEYWORDS:
            return self._emit(KEYWORDS[word])
        return self._emit(BOOL if word in ("true", "false") else IDENTIFIER)

    def _quoted(self, kind: str, quote: str, what: str) -> Item:
        while True:
            c = self._next()
            if c == "\\":
                c = self._next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                return self._error(f"unterminated {what}")
            if c == quote:
                return self._emit(kind)

    def _string(self) -> Item:
        return self._quoted(STRING, '"', "quoted string")

    def _char_constant(self) -> Item:
        return self._quoted(CHAR_CONSTANT, "'", "character constant")

    def _raw_string(self) -> Item:
        i = self.text.find("`", self.pos)
        if i < 0:
            self.pos = len(self.text)
            return self._error("unterminated raw quoted string")
        self.pos = i + 1
        return self._emit(RAW_STRING)

    def _number(self) -> Item:
        self.pos = self.start  # rescan from the sign or first digit
        if not self._scan_number():
            return self._error(f"bad number syntax: {go_quote(self.text[self.start:self.pos])}")
        if self._peek() in ("+", "-") and self._peek():
            if not self._scan_number() or self.text[self.pos - 1] != "i":
                return self._error(f"bad number syntax: {go_quote(self.text[self.start:self.pos])}")
            return self._emit(COMPLEX)
        return self._emit(NUMBER)

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if is_alnum(self._peek()):
            self.pos += 1
            return False
        return True


# First rune of an action token -> scanner (runes not listed are classified
# by _inside_action: spaces, digits and signs, letters, other ASCII).
_ACTION_TABLE = {
    "=": Lexer._assign,
    ":": Lexer._colon,
    "|": Lexer._pipe,
    '"': Lexer._string,
    "`": Lexer._raw_string,
    "$": Lexer._dollar,
    "'": Lexer._char_constant,
    ".": Lexer._dot,
    "(": Lexer._lparen,
    ")": Lexer._rparen,
}
