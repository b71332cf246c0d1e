"""A parsed template and the cached parse() that every verb shares."""

from __future__ import annotations

from functools import lru_cache

from pallet.cli.gotemplate.execute import MISSING_KEY_MODES, execute
from pallet.cli.gotemplate.funcs import FUNCTIONS
from pallet.cli.gotemplate.parser import parse_tree


class Template:
    """A parsed template; immutable, so parse() can cache and share it."""

    __slots__ = ("text", "name", "tree")

    def __init__(self, text: str, name: str = ""):
        self.text = text
        self.name = name
        self.tree = parse_tree(text, name, FUNCTIONS)

    def execute(self, data, *, missingkey: str = "default") -> str:
        """Render over `data`. missingkey is Go's option: "default"/"invalid"
        print `<no value>` for an absent map key, "zero" the zero value,
        "error" fails (Docker's raw-JSON inspect fallback uses "error")."""
        if missingkey not in MISSING_KEY_MODES:
            raise ValueError(f"unrecognized missingkey option {missingkey!r}")
        return execute(self.tree, self.text, self.name, data, FUNCTIONS, missingkey)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


@lru_cache(maxsize=128)
def parse(text: str, name: str = "") -> Template:
    return Template(text, name)


def render(text: str, data, *, missingkey: str = "default") -> str:
    return parse(text).execute(data, missingkey=missingkey)
