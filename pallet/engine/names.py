"""Container ids and names: generation, validation, and lookup by name or id prefix."""

from __future__ import annotations

import os

from pallet.errors import InvalidArgument, NotFound

_NAME = r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+"  # compiled on use: `ps` must not import re

# A short table is enough: a name only has to be memorable and unlikely to collide.
_ADJECTIVES = (
    "admiring", "brave", "calm", "clever", "dazzling", "eager", "elated", "focused", "gallant",
    "happy", "hopeful", "jolly", "keen", "kind", "loving", "lucid", "modest", "nifty", "quirky",
    "relaxed", "serene", "sharp", "stoic", "tender", "upbeat", "vibrant", "wizardly", "zealous",
)
_NOUNS = (
    "albattani", "babbage", "curie", "darwin", "euclid", "fermat", "galileo", "hopper", "hypatia",
    "kepler", "lovelace", "meitner", "newton", "noether", "pascal", "ritchie", "shannon", "tesla",
    "thompson", "torvalds", "turing", "wozniak", "yonath", "zhukovsky",
)


def new_id() -> str:
    return os.urandom(32).hex()


def short(cid: str) -> str:
    return cid[:12]


def validate_name(name: str) -> str:
    import re

    if not re.fullmatch(_NAME, name):
        raise InvalidArgument(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
    return name.lstrip("/")


def random_name(taken: set[str]) -> str:
    for _ in range(100):
        a, n = os.urandom(2)
        name = f"{_ADJECTIVES[a % len(_ADJECTIVES)]}_{_NOUNS[n % len(_NOUNS)]}"
        if name not in taken:
            return name
    return f"{name}_{os.urandom(3).hex()}"


def pick(ref: str, matches: list[tuple[str, str]], kind: str = "container") -> str:
    """The one id among `matches` (id, name) for `ref`, or a one-line error."""
    if not matches:
        raise NotFound(f"no such {kind}: {ref}")
    if len(matches) > 1:
        cands = ", ".join(f"{cid[:12]} ({name})" for cid, name in sorted(matches))
        raise InvalidArgument(f"{kind} reference {ref!r} is ambiguous: it matches {cands}")
    return matches[0][0]
