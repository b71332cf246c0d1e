"""`loads` and `dumps`: json.loads/json.dumps through CPython's C scanner and encoder, without the json package.

`import json` costs ~5-8 ms here because json.decoder imports `re` (which
brings enum and functools): a third of the imports of `pallet ps` or `stats
--no-stream`, which read a container's config JSON from every row and must
finish in half of podman's time. The C scanner (`_json.make_scanner`, what
json.loads runs underneath) needs only a context object; the result is the
same as json.loads' for every document (objects as dicts, NaN/Infinity
accepted). `dumps` is json.dumps with its defaults through the C encoder
(`_json.make_encoder`), for the bundle's config.json that every `run` writes.
"""

from __future__ import annotations


class _Context:
    """The attributes json.decoder.JSONDecoder gives the scanner, with json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__
    memo: dict = {}


try:
    from _json import encode_basestring_ascii as _encode_str
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner

    _scan = _make_scanner(_Context)
except ImportError:  # pragma: no cover - an interpreter without the C accelerator
    _scan = None

_WS = " \t\n\r"


def loads(text: str | bytes):
    """Parse one JSON document; ValueError (json.JSONDecodeError on syntax errors) when it is not one."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    start = len(text) - len(text.lstrip(_WS))
    try:
        obj, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"Expecting value: char {exc.value}") from None
    except SystemError:
        # CPython 3.11's scanner raises its syntax errors as json.decoder.JSONDecodeError, looked up in
        # sys.modules only: without json.decoder imported it sets no exception (SystemError). This is the error
        # path only: let json say what is wrong, as a ValueError.
        import json

        return json.loads(text)
    if text[end:].strip(_WS):
        raise ValueError(f"Extra data: char {end}")
    return obj


def load_file(path: str):
    with open(path, "rb") as f:
        return loads(f.read())


def _not_serializable(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def dumps(obj, separators: tuple[str, str] = (", ", ": ")) -> str:
    """json.dumps(obj, separators=...) with its other defaults (ASCII, circular check, NaN allowed)."""
    item_sep, key_sep = separators
    if _scan is None:  # pragma: no cover
        import json

        return json.dumps(obj, separators=separators)
    # A fresh markers dict per call: the encoder keeps the ids of the containers it is inside
    encode = _make_encoder({}, _not_serializable, _encode_str, None, key_sep, item_sep, False, False, True)
    return "".join(encode(obj, 0))
