"""Template functions: Go's builtins (with fmt's printf) and Docker's additions."""

import pytest

from pallet.cli.gotemplate import render

DATA = {"L": [3, 1, 2], "S": "hello", "M": {"a": 1, "b": [10, 20]}, "Labels": {"k": "v"},
        "F": 2.5, "N": None, "T": True}


@pytest.mark.parametrize("template, expected", [
    # and/or return the deciding argument and short-circuit
    ("{{and 1 0 2}}", "0"),
    ("{{and 1 2}}", "2"),
    ("{{or 0 \"\" \"x\"}}", "x"),
    ("{{or 0 \"\"}}", ""),
    ("{{or true (index .L 99)}}", "true"),
    ("{{and false (index .L 99)}}", "false"),
    ("{{not 0}} {{not .S}}", "true false"),
    # len, index, slice
    ("{{len .S}} {{len .L}} {{len .M}}", "5 3 2"),
    ("{{index .L 1}}", "1"),
    ("{{index .M \"b\" 1}}", "20"),
    ("{{index .S 1}}", "101"),
    ("{{index .Labels \"missing\"}}|", "|"),
    ("{{index .M \"missing\"}}", "<no value>"),
    ("{{slice .S 1 3}}", "el"),
    ("{{slice .L 1}}", "[1 2]"),
    ("{{slice .L}}", "[3 1 2]"),
    # comparisons
    ("{{eq .S \"x\" \"hello\"}}", "true"),
    ("{{eq 1 2}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt \"b\" \"a\"}} {{ge 1 2}}", "false true true true true false"),
    ("{{eq .F 2.5}} {{lt 2 .F}}", "true true"),
    ("{{eq .Nope \"x\"}} {{eq .N .Nope}}", "false true"),
    ("{{if eq .S \"hello\"}}yes{{end}}", "yes"),
    # print family
    ("{{print 1 2 \"a\" 3 \"b\" \"c\"}}", "1 2a3bc"),
    ("{{println \"a\" 1}}", "a 1\n"),
    ("{{print .N}}", "<nil>"),
    # escapers
    ("{{html \"<a href='x'>&</a>\"}}", "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"),
    ("{{js \"it's <b>\\n\"}}", "it\\'s \\u003Cb\\u003E\\u000A"),
    ("{{urlquery \"a b&c=d/é\"}}", "a+b%26c%3Dd%2F%C3%A9"),
    ("{{html .Nope}}", "&lt;no value&gt;"),
    ("{{html 1 2}}", "1 2"),
])
def test_go_builtins(template, expected):
    assert render(template, DATA) == expected


@pytest.mark.parametrize("fmt, args, expected", [
    ("%-10s|", '"web"', "web       |"),
    ("%10s|", '"web"', "       web|"),
    ("%5d|%-5d|%05d", "42 42 -42", "   42|42   |-0042"),
    ("%x %X %o %b %c %U", "255 255 8 5 65 65", "ff FF 10 101 A U+0041"),
    ("%#x %+d", "255 5", "0xff +5"),
    ("%q %q", '"hi\\n" 65', "\"hi\\n\" 'A'"),
    ("%x % x", '"hi" "hi"', "6869 68 69"),
    ("%t %v", "true false", "true false"),
    ("%.2f %5.1f|%e %g", "3.14159 2.25 1234.5678 0.000012", "3.14   2.2|1.234568e+03 1.2e-05"),
    ("%v %v %v", "1.0 100000.0 1000000.0", "1 100000 1e+06"),
    ("%.2s|%6.3s|", '"abcdef" "abcdef"', "ab|   abc|"),
    ("%v", ".L", "[3 1 2]"),
    ("%d", ".L", "[3 1 2]"),
    ("%s", ".M", "map[a:%!s(int=1) b:[%!s(int=10) %!s(int=20)]]"),
    ("%d", '"x"', "%!d(string=x)"),
    ("%s", "5", "%!s(int=5)"),
    ("%s %s", '"a"', "a %!s(MISSING)"),
    ("%d", "1 2", "1%!(EXTRA int=2)"),
    ("100%%", "", "100%"),
    ("%*d|", "4 7", "   7|"),
    ("%s", ".N", "%!s(<nil>)"),
])
def test_printf_like_go_fmt(fmt, args, expected):
    assert render("{{printf \"" + fmt + "\" " + args + "}}", DATA) == expected


@pytest.mark.parametrize("template, expected", [
    ("{{json .}}", '{"a":"<b>&","e":"é","f":1.5,"i":2,"n":null,"w":2}'),
    ("{{json .w}}", "2"),
    ("{{json .nope}}", "null"),
    ("{{split \"a:b:c\" \":\"}}", "[a b c]"),
    ("{{join (split \"a,b\" \",\") \"-\"}}", "a-b"),
    ("{{title \"hello wORLD-x y_z\"}}", "Hello WORLD-X Y_z"),
    ("{{upper \"abc\"}} {{lower \"ABC\"}}", "ABC abc"),
    ("{{truncate \"abcdef\" 3}} {{truncate \"ab\" 5}}", "abc ab"),
    ("[{{pad \"x\" 2 1}}] [{{pad \"\" 2 2}}]", "[  x ] []"),
])
def test_docker_functions(template, expected):
    data = {"a": "<b>&", "n": None, "f": 1.5, "i": 2, "w": 2.0, "e": "é"}
    assert render(template, data) == expected


def test_docker_json_does_not_escape_html_but_escapes_line_separators():
    assert render("{{json .}}", {"s": "<a>\u2028\n\t\"\\"}) == '{"s":"<a>\\u2028\\n\\t\\"\\\\"}'


def test_json_of_dataclass_keeps_field_order():
    from dataclasses import dataclass

    @dataclass
    class Port:
        PrivatePort: int
        PublicPort: int | None
        Type: str

    assert render("{{json .}}", Port(80, None, "tcp")) == '{"PrivatePort":80,"PublicPort":null,"Type":"tcp"}'


def test_call_invokes_a_function_value():
    assert render("{{call .F 2 3}}", {"F": lambda a, b: a * b}) == "6"
