"""Template errors: Go's one-line wording, raised as InvalidArgument."""

from dataclasses import dataclass

import pytest

from pallet.cli.gotemplate import TemplateExecError, TemplateParseError, render
from pallet.errors import InvalidArgument


@dataclass
class Row:
    Name: str
    Tags: list


ROW = Row("web", ["a", "b"])


@pytest.mark.parametrize("template, message", [
    ("{{.Foo}", 'template: :1: unexpected "}" in operand'),
    ("{{.Foo", "template: :1: unclosed action"),
    ("{{.Foo\n", "template: :2: unclosed action started at :1"),
    ("{{if .X}}", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{if .X}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
    ("{{nosuch .X}}", 'template: :1: function "nosuch" not defined'),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{if 1}}{{$y := 1}}{{end}}{{$y}}", 'template: :1: undefined variable "$y"'),
    ("{{}}", "template: :1: missing value for command"),
    ("{{range}}{{end}}", "template: :1: missing value for range"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{.X | 3}}", "template: :1: non executable command in pipeline stage 2"),
    ('{{"abc}}', "template: :1: unterminated quoted string"),
    ("{{(.X}}", "template: :1: unclosed left paren"),
    ("{{.X)}}", "template: :1: unexpected right paren"),
    ("{{3x}}", 'template: :1: bad number syntax: "3x"'),
    ("{{.X.}}", "template: :1: unexpected <.> in operand"),
    ("{{/* open }}", "template: :1: unclosed comment"),
    ("{{/* c */ .X}}", "template: :1: comment ends before closing delimiter"),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ("{{range $a, $b, $c := .X}}{{end}}", "template: :1: too many declarations in range"),
    ("{{\"a\".X}}", 'template: :1: unexpected . after term "\\"a\\""'),
    ("line1\nline2 {{.X ,}}", 'template: :2: unexpected "," in operand'),
])
def test_parse_errors(template, message):
    with pytest.raises(TemplateParseError) as info:
        render(template, {})
    assert str(info.value) == message


@pytest.mark.parametrize("template, data, message", [
    ("{{.Foo}}", ROW, 'template: :1:2: executing "" at <.Foo>: can\'t evaluate field Foo in type *test_gotemplate_errors.Row'),
    ("{{.Name.Foo}}", ROW, 'template: :1:7: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type string'),
    ("{{.State.Health.Status}}", {"State": {"Health": None}},
     'template: :1:8: executing "" at <.State.Health.Status>: nil pointer evaluating interface {}.Status'),
    ("{{index .Tags 5}}", ROW, 'template: :1:2: executing "" at <index .Tags 5>: error calling index: index out of range: 5'),
    ("{{join .Tags}}", ROW, 'template: :1:2: executing "" at <join>: wrong number of args for join: want 2 got 1'),
    ("{{index}}", ROW, 'template: :1:2: executing "" at <index>: wrong number of args for index: want at least 1 got 0'),
    ('{{truncate .Name "x"}}', ROW, 'template: :1:17: executing "" at <"x">: expected integer; found "x"'),
    ("{{upper .Tags}}", ROW, 'template: :1:8: executing "" at <.Tags>: wrong type for value; expected string; got []interface {}'),
    ('{{eq .Name 1}}', ROW, 'template: :1:2: executing "" at <eq .Name 1>: error calling eq: incompatible types for comparison'),
    ("{{lt true false}}", ROW, 'template: :1:2: executing "" at <lt true false>: error calling lt: invalid type for comparison'),
    ("{{len 3}}", ROW, 'template: :1:2: executing "" at <len 3>: error calling len: len of type int'),
    ("{{nil}}", ROW, 'template: :1:2: executing "" at <nil>: nil is not a command'),
    ('{{"a" 1}}', ROW, 'template: :1:2: executing "" at <"a">: can\'t give argument to non-function "a"'),
    ("{{range .Name}}{{end}}", ROW,
     'template: :1:8: executing "" at <{{range .Name}}{{end...>: range can\'t iterate over web'),
    ("a\nb {{.Nope}}", ROW, 'template: :2:4: executing "" at <.Nope>: can\'t evaluate field Nope in type *test_gotemplate_errors.Row'),
    ("{{.Name 1}}", {"Name": "x"}, 'template: :1:2: executing "" at <.Name>: Name is not a method but has arguments'),
])
def test_execution_errors(template, data, message):
    with pytest.raises(TemplateExecError) as info:
        render(template, data)
    assert str(info.value) == message


def test_method_errors_are_reported_as_calls():
    class Ctx:
        def Size(self):
            raise OSError("disk gone")

    with pytest.raises(TemplateExecError, match=r"at <\.Size>: error calling Size: disk gone"):
        render("{{.Size}}", Ctx())


def test_errors_are_invalid_argument_and_one_line():
    for template in ("{{.X", "{{.Foo}}"):
        with pytest.raises(InvalidArgument) as info:
            render(template, ROW)
        assert "\n" not in str(info.value)
