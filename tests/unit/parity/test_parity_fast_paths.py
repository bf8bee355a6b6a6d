"""The comparison's fast paths (issue 21: identical subtrees no rule reaches are not walked; orjson parses,
json decides what orjson refuses) give the same differences as the full walk."""
from __future__ import annotations

import json

from proxy.parity import Normaliser, Response
from proxy.table import ParityConfig


def _resp(body: bytes, ctype: str = "application/json") -> Response:
    return Response.of(200, {"content-type": ctype}, body)


def _kinds(ref: object, cand: object, config: ParityConfig | None = None) -> list[tuple[str, str]]:
    diffs = Normaliser(config).compare(_resp(json.dumps(ref).encode()), _resp(json.dumps(cand).encode()))
    return [(d.path, d.kind) for d in diffs]


def test_equal_under_python_but_not_json_types_is_still_a_difference():
    # True == 1 and [1] == [True] in Python: the skipped-subtree check must not hide a type change
    assert _kinds({"a": [1, {"b": True}]}, {"a": [True, {"b": 1}]}) == [("$.a[0]", "type"), ("$.a[1].b", "type")]
    assert _kinds({"x": 1}, {"x": True}) == [("$.x", "type")]


def test_int_and_float_of_the_same_value_stay_equal():
    assert _kinds({"items": [{"n": 1}]}, {"items": [{"n": 1.0}]}) == []


def test_reordered_keys_are_walked_and_equal():
    assert _kinds({"p": {"a": 1, "b": 2}}, {"p": {"b": 2, "a": 1}}) == []


def test_identical_subtree_next_to_a_rule_path():
    config = ParityConfig(ignore=["$.ServerTime"])
    ref = {"ServerTime": "1", "Products": [{"Id": 1, "Name": "x"}] * 3}
    cand = {"ServerTime": "2", "Products": [{"Id": 1, "Name": "x"}, {"Id": 1, "Name": "y"}, {"Id": 1, "Name": "x"}]}
    assert _kinds(ref, cand, config) == [("$.Products[1].Name", "changed")]


def test_bodies_orjson_refuses_are_parsed_by_json():
    big = b'{"n": 123456789012345678901234567890}'
    bigger = b'{"n": 123456789012345678901234567891}'
    diffs = Normaliser().compare(_resp(big), _resp(bigger))
    assert [(d.path, d.kind) for d in diffs] == [("$.n", "changed")]
    utf16 = json.dumps({"a": 1}).encode("utf-16")
    assert [(d.path, d.kind) for d in Normaliser().compare(_resp(utf16), _resp(json.dumps({"a": 2}).encode()))] \
        == [("$.a", "changed")]
    nan = b'{"a": NaN}'
    assert [d.kind for d in Normaliser().compare(_resp(nan), _resp(b'{"a": 1}'))] == ["changed"]
