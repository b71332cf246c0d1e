"""pallet.fastjson.dumps against json.dumps (loads is checked in test_engine_cli_flags.py)."""

from __future__ import annotations

import json

import pytest

from pallet import fastjson

DOCS = [{"a": [1, 2.5, None, True, "é\n"], "b": {"c": -1}}, [], {}, "x", 0, [{"nested": [[{}]]}]]


@pytest.mark.parametrize("doc", DOCS)
@pytest.mark.parametrize("separators", [(", ", ": "), (",", ":")])
def test_dumps_matches_json(doc, separators):
    assert fastjson.dumps(doc, separators=separators) == json.dumps(doc, separators=separators)
    assert fastjson.loads(fastjson.dumps(doc, separators=separators)) == doc


def test_dumps_refuses_what_json_refuses():
    with pytest.raises(TypeError, match="set is not JSON serializable"):
        fastjson.dumps({"s": {1}})
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError):
        fastjson.dumps(loop)
