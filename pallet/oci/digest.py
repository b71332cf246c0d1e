"""Content digests (`sha256:<64 hex>`) and the chain ID of a layer stack.

Only sha256 is produced; sha512 is accepted when parsing, as the OCI image
spec allows it.
"""

from __future__ import annotations

from pallet.errors import InvalidArgument

_ALGOS = {"sha256": 64, "sha512": 128}  # the algorithms we accept, with their hex lengths
_HEX = frozenset("0123456789abcdef")


def is_digest(text: str) -> bool:
    """`algo:hex` with a known algorithm and its length of lowercase hex (no regex: `re` costs ~4 ms of a `run`)."""
    algo, sep, hex_ = (text or "").partition(":")
    return bool(sep) and _ALGOS.get(algo) == len(hex_) and _HEX.issuperset(hex_)


def validate(digest: str) -> str:
    """Return `digest` if it is `algo:hex` with a known algorithm and length, else raise."""
    if not is_digest(digest):
        raise InvalidArgument(f"invalid digest {digest!r}: expected sha256:<64 hex digits>")
    return digest


def hex_of(digest: str) -> str:
    return validate(digest).split(":", 1)[1]


def algorithm(digest: str) -> str:
    return validate(digest).split(":", 1)[0]


def of_bytes(data: bytes) -> str:
    import hashlib  # lazily: ~3 ms, and `run` only parses digests

    return "sha256:" + hashlib.sha256(data).hexdigest()


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI chain IDs: ChainID(L0) = DiffID(L0); ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln))."""
    out: list[str] = []
    for d in diff_ids:
        validate(d)
        out.append(d if not out else of_bytes(f"{out[-1]} {d}".encode()))
    return out
