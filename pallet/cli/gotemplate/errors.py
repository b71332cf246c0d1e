"""Template errors: one line each, worded as Go's text/template words them.

Both are InvalidArgument: a bad --format is the user's input, and the CLI
maps InvalidArgument to its usage exit code.
"""

from pallet.errors import InvalidArgument


class TemplateParseError(InvalidArgument):
    """`template: :1: unexpected "}" in operand`"""


class TemplateExecError(InvalidArgument):
    """`template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in type ...`"""
