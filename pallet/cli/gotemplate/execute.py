"""The evaluator: walks a parse tree over Python data, as Go's exec.go does.

Data is looked up the way Go looks up a map[string]interface{} decoded from
Docker's JSON, or a struct: `.Key` on a dict reads the key (absent:
MISSING, printed `<no value>`), `.Attr` on any other object reads the
attribute and calls it when it is a method (absent: Go's "can't evaluate
field" error). Names starting with "_" are never read from objects, so a
template cannot reach Python internals, and only capitalised ("exported")
methods are called.
"""

from __future__ import annotations

import types

from pallet.cli.gotemplate import gofmt
from pallet.cli.gotemplate import nodes as N
from pallet.cli.gotemplate.errors import TemplateExecError
from pallet.cli.gotemplate.funcs import FuncError, FuncSpec
from pallet.cli.gotemplate.values import (
    MISSING, is_int, is_list, is_struct, sorted_items, truth, type_name,
)

NO_FINAL = object()  # "no value piped in" (Go's missingVal)
MISSING_KEY_MODES = ("default", "invalid", "zero", "error")


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class FieldSource:
    """Optional protocol for data that computes its fields (table headers).

    `template_field(name, args)` returns the value of `.name` (with method
    arguments `args`), or MISSING.
    """

    def template_field(self, name: str, args: list):  # pragma: no cover - protocol
        raise NotImplementedError


class State:
    def __init__(self, text: str, name: str, funcs: dict[str, FuncSpec], missingkey: str):
        self.text = text
        self.name = name
        self.funcs = funcs
        self.missingkey = missingkey
        self.node = None
        self.out: list[str] = []
        self.vars: list[list] = []  # [name, value], innermost last

    # -- errors ------------------------------------------------------------------
    def at(self, node) -> None:
        self.node = node

    def fail(self, msg: str):
        name = self.name
        if self.node is None:
            raise TemplateExecError(f"template: {name}: {msg}")
        pos = self.node.pos
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1)
        context = str(self.node)
        if len(context) > 20:
            context = context[:20] + "..."
        raise TemplateExecError(
            f'template: {name}:{line}:{col}: executing "{name}" at <{context}>: {msg}')

    # -- variables -----------------------------------------------------------------
    def push(self, name: str, value) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.fail(f"undefined variable: {name}")

    def set_top_var(self, n: int, value) -> None:
        self.vars[-n][1] = value

    def var_value(self, name: str):
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        self.fail(f"undefined variable: {name}")

    # -- walking -------------------------------------------------------------------------
    def walk(self, dot, node) -> None:
        _WALKERS[type(node)](self, dot, node)

    def walk_list(self, dot, node: N.List) -> None:
        for child in node.nodes:
            self.walk(dot, child)

    def walk_text(self, dot, node: N.Text) -> None:
        self.out.append(node.text)

    def walk_action(self, dot, node: N.Action) -> None:
        value = self.eval_pipeline(dot, node.pipe)
        if not node.pipe.decl:
            self.print_value(node, value)

    def walk_branch(self, dot, node: N.Branch) -> None:
        _BRANCHES[node.keyword](self, dot, node)

    def walk_if(self, dot, node: N.Branch) -> None:
        self._if_or_with(dot, node, is_with=False)

    def walk_with(self, dot, node: N.Branch) -> None:
        self._if_or_with(dot, node, is_with=True)

    def _if_or_with(self, dot, node, is_with: bool) -> None:
        mark = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if is_with else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_jump(self, dot, node: N.Jump) -> None:
        raise _Break() if node.keyword == "break" else _Continue()

    def walk_range(self, dot, node: N.Branch) -> None:
        self.at(node)
        mark = self.mark()
        try:
            value = self.eval_pipeline(dot, node.pipe)
            pairs = self._range_pairs(node, value)
            ran = False
            for index, elem in pairs:
                ran = True
                if not self._iteration(node, index, elem):
                    break
            if not ran and node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def _range_pairs(self, node: N.Branch, value):
        if is_list(value):
            return enumerate(value)
        if isinstance(value, dict):
            return sorted_items(value)
        if is_int(value):  # Go 1.22: range over an integer
            if len(node.pipe.decl) > 1:
                self.at(node)
                self.fail(f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        if value is MISSING or value is None:
            return ()
        self.at(node)
        self.fail(f"range can't iterate over {gofmt.format_value(value)}")

    def _iteration(self, node: N.Branch, index, elem) -> bool:
        decl = node.pipe.decl
        if decl:
            if node.pipe.is_assign:
                self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                if len(decl) > 1:
                    self.set_var(decl[1].ident[0], elem)
            else:
                self.set_top_var(1, elem)
                if len(decl) > 1:
                    self.set_top_var(2, index)
        mark = self.mark()
        try:
            self.walk(elem, node.list)
        except _Continue:
            pass
        except _Break:
            return False
        finally:
            self.pop(mark)
        return True

    # -- pipelines and commands ---------------------------------------------------------
    def eval_pipeline(self, dot, pipe: N.Pipe):
        self.at(pipe)
        value = NO_FINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
            if value is None:  # Go unwraps a nil interface into "no value"
                value = MISSING
        for var in pipe.decl:
            if pipe.is_assign:
                self.set_var(var.ident[0], value)
            else:
                self.push(var.ident[0], value)
        return value

    def eval_command(self, dot, cmd: N.Command, final):
        first = cmd.args[0]
        handler = _COMMANDS.get(type(first))
        if handler is not None:
            return handler(self, dot, first, cmd, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        literal = _LITERALS.get(type(first))
        if literal is None:
            self.fail(f"can't evaluate command {gofmt.quote(str(first))}")
        return literal(self, dot, first)

    def not_a_function(self, args, final) -> None:
        if len(args) > 1 or final is not NO_FINAL:
            self.fail(f"can't give argument to non-function {args[0]}")

    def _command_field(self, dot, node, cmd, final):
        return self.eval_field_node(dot, node, cmd.args, final)

    def _command_chain(self, dot, node, cmd, final):
        return self.eval_chain_node(dot, node, cmd.args, final)

    def _command_function(self, dot, node, cmd, final):
        return self.eval_function(dot, node, cmd, cmd.args, final)

    def _command_pipe(self, dot, node, cmd, final):
        self.not_a_function(cmd.args, final)
        return self.eval_pipeline(dot, node)

    def _command_variable(self, dot, node, cmd, final):
        return self.eval_variable_node(dot, node, cmd.args, final)

    def _nil_command(self, dot, node):
        self.fail("nil is not a command")

    # -- fields -----------------------------------------------------------------------------
    def eval_field_node(self, dot, field: N.Field, args, final):
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(self, dot, chain: N.Chain, args, final):
        if isinstance(chain.node, N.Nil):
            self.fail(f"indirection through explicit nil in {chain}")
        receiver = self.eval_arg(dot, "value", chain.node)
        return self.eval_field_chain(dot, receiver, chain, chain.field, args, final)

    def eval_variable_node(self, dot, var: N.Variable, args, final):
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or (var,), final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(self, dot, receiver, node, ident, args, final):
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, NO_FINAL, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_field(self, dot, name: str, node, args, final, receiver):
        if receiver is MISSING:
            if self.missingkey == "error":
                self.fail(f"nil data; no entry for key {gofmt.quote(name)}")
            return MISSING
        if receiver is None:
            self.fail(f"nil pointer evaluating interface {{}}.{name}")
        has_args = (args is not None and len(args) > 1) or final is not NO_FINAL
        if isinstance(receiver, FieldSource):
            return receiver.template_field(name, self._method_args(dot, args, final))
        if isinstance(receiver, dict):
            if has_args:
                self.fail(f"{name} is not a method but has arguments")
            if name in receiver:
                return receiver[name]
            return self._missing_key(name, receiver)
        if not is_struct(receiver) or name.startswith("_"):
            self.fail(f"can't evaluate field {name} in type {type_name(receiver)}")
        try:
            attr = getattr(receiver, name)
        except AttributeError:
            self.fail(f"can't evaluate field {name} in type {type_name(receiver)}")
        except Exception as exc:  # a property that raised
            self.fail(f"error calling {name}: {exc}")
        if callable(attr) and not isinstance(attr, type):
            if not name[0].isupper():
                # Only "exported" methods run, as in Go: Docker-style getters
                # are capitalised, and a template must not call `delete()`.
                self.fail(f"can't evaluate field {name} in type {type_name(receiver)}")
            argv = self._method_args(dot, args, final)
            try:
                return attr(*argv)
            except Exception as exc:  # Go reports a method's error the same way
                self.at(node)
                self.fail(f"error calling {name}: {exc}")
        if has_args:
            self.fail(f"{name} has arguments but cannot be invoked as function")
        return attr

    def _missing_key(self, name: str, receiver: dict):
        mode = self.missingkey
        if mode == "error":
            self.fail(f"map has no entry for key {gofmt.quote(name)}")
        if mode == "zero":
            return "" if all(isinstance(v, str) for v in receiver.values()) else None
        return MISSING

    def _method_args(self, dot, args, final) -> list:
        argv = [self.eval_arg(dot, "any", a) for a in (args or ())[1:]]
        if final is not NO_FINAL:
            argv.append(None if final is MISSING else final)
        return argv

    # -- functions -----------------------------------------------------------------------
    def eval_function(self, dot, ident: N.Identifier, cmd, args, final):
        self.at(ident)
        name = ident.name
        spec = self.funcs.get(name)
        if spec is None:
            self.fail(f"{gofmt.quote(name)} is not a defined function")
        args = tuple(args or ())[1:]  # args[0] is the function's own name
        n_in = len(args) + (final is not NO_FINAL)
        params = spec.params
        if spec.variadic:
            if n_in < len(params) - 1:
                self.fail(f"wrong number of args for {name}: want at least {len(params) - 1} got {len(args)}")
        elif n_in != len(params):
            self.fail(f"wrong number of args for {name}: want {len(params)} got {n_in}")

        def param(i: int) -> str:
            return params[min(i, len(params) - 1)]

        if spec.short_circuit:
            return self._and_or(dot, name, args, final, param)
        argv = [self.eval_arg(dot, param(i), a) for i, a in enumerate(args)]
        if final is not NO_FINAL:
            argv.append(self.validate(final, param(len(args))))
        try:
            return spec.fn(*argv)
        except FuncError as exc:
            self.at(cmd)
            self.fail(f"error calling {name}: {exc}")
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            self.at(cmd)
            self.fail(f"error calling {name}: {exc}")

    def _and_or(self, dot, name: str, args, final, param):
        want = name == "or"
        value = MISSING
        for i, arg in enumerate(args):
            value = self.eval_arg(dot, param(i), arg)
            if truth(value) == want:
                return value
        if final is not NO_FINAL:
            value = final
        return value

    # -- arguments -----------------------------------------------------------------------
    def eval_arg(self, dot, typ: str, node):
        self.at(node)
        evaluate = _ARG_NODES.get(type(node))
        if evaluate is not None:
            return self.validate(evaluate(self, dot, node), typ)
        if isinstance(node, N.Nil):
            if typ == "any":
                return None
            self.fail(f"cannot assign nil to {_GO_PARAM_TYPES[typ]}")
        return _LITERAL_ARGS[typ](self, node)

    def validate(self, value, typ: str):
        if value is MISSING:
            if typ == "value":
                return MISSING
            if typ == "any":
                return None
            self.fail(f"invalid value; expected {_GO_PARAM_TYPES[typ]}")
        check = _TYPE_CHECKS.get(typ)
        if check is not None and not check(value):
            self.fail(f"wrong type for value; expected {_GO_PARAM_TYPES[typ]}; got {type_name(value)}")
        return value

    def _literal_any(self, node):
        return _LITERALS[type(node)](self, None, node)

    def _literal_string(self, node):
        if isinstance(node, N.String):
            return node.text
        self.fail(f"expected string; found {node}")

    def _literal_int(self, node):
        if isinstance(node, N.Number) and node.as_int is not None:
            return node.as_int
        self.fail(f"expected integer; found {node}")

    def _literal_list(self, node):
        self.fail(f"can't handle {node} for arg of type []string")

    # -- output --------------------------------------------------------------------------
    def print_value(self, node, value) -> None:
        self.at(node)
        if value is MISSING or value is None:
            self.out.append("<no value>")
            return
        if isinstance(value, _FUNCTION_TYPES):  # Go cannot print a func either
            self.fail(f"can't print {node} of type {type_name(value)}")
        self.out.append(gofmt.format_value(value))


_FUNCTION_TYPES = (types.FunctionType, types.MethodType, types.BuiltinFunctionType)

_GO_PARAM_TYPES = {"any": "interface {}", "value": "reflect.Value", "string": "string",
                   "int": "int", "[]string": "[]string"}

_TYPE_CHECKS = {
    "string": lambda v: isinstance(v, str),
    "int": is_int,
    "[]string": is_list,  # elements are printed with %v: lenient where Go is strict
}

_WALKERS = {
    N.List: State.walk_list,
    N.Text: State.walk_text,
    N.Action: State.walk_action,
    N.Branch: State.walk_branch,
    N.Jump: State.walk_jump,
}

_BRANCHES = {
    "if": State.walk_if,
    "with": State.walk_with,
    "range": State.walk_range,
}

_COMMANDS = {
    N.Field: State._command_field,
    N.Chain: State._command_chain,
    N.Identifier: State._command_function,
    N.Pipe: State._command_pipe,
    N.Variable: State._command_variable,
}

_LITERALS = {
    N.Bool: lambda s, dot, n: n.value,
    N.Dot: lambda s, dot, n: dot,
    N.Nil: State._nil_command,
    N.Number: lambda s, dot, n: n.value,
    N.String: lambda s, dot, n: n.text,
}

# Argument nodes that are evaluated rather than read as literals.
_ARG_NODES = {
    N.Dot: lambda s, dot, n: dot,
    N.Field: lambda s, dot, n: s.eval_field_node(dot, n, (n,), NO_FINAL),
    N.Variable: lambda s, dot, n: s.eval_variable_node(dot, n, None, NO_FINAL),
    N.Pipe: lambda s, dot, n: s.eval_pipeline(dot, n),
    N.Identifier: lambda s, dot, n: s.eval_function(dot, n, n, None, NO_FINAL),
    N.Chain: lambda s, dot, n: s.eval_chain_node(dot, n, None, NO_FINAL),
}

_LITERAL_ARGS = {
    "any": State._literal_any,
    "value": State._literal_any,
    "string": State._literal_string,
    "int": State._literal_int,
    "[]string": State._literal_list,
}


def execute(tree: N.List, text: str, name: str, data, funcs, missingkey: str = "default") -> str:
    state = State(text, name, funcs, missingkey)
    state.push("$", data)
    state.walk(data, tree)
    return "".join(state.out)


def execute_partial(tree: N.List, text: str, name: str, data, funcs) -> str:
    """Execute and keep whatever was written before an error (Docker's header row)."""
    state = State(text, name, funcs, "default")
    state.push("$", data)
    try:
        state.walk(data, tree)
    except TemplateExecError:
        pass
    return "".join(state.out)
