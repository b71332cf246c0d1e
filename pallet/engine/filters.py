"""`--filter KEY=VALUE` flags, as Docker's list and prune verbs take them."""

from __future__ import annotations

from pallet.errors import InvalidArgument


def parse_filters(filters, keys: tuple[str, ...]) -> dict[str, list[str]]:
    """{key: [values]} of `filters`; one-line error for a filter without `=` or with a key not in `keys`."""
    out: dict[str, list[str]] = {}
    for f in filters:
        k, eq, v = f.partition("=")
        if not eq or k not in keys:
            raise InvalidArgument(f"invalid filter {f!r}: expected KEY=VALUE with KEY in {', '.join(keys)}")
        out.setdefault(k, []).append(v)
    return out
