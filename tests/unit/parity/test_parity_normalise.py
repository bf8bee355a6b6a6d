"""The shared normaliser: every rule, on decoded JSON and on whole HTTP responses."""
from __future__ import annotations

import json

import pytest

from proxy.parity.normalise import Normaliser, Response, normaliser_for
from proxy.parity.paths import PathPatternError, PathSet, compile_pattern, field_key
from proxy.table import ParityConfig


def diffs(ref, cand, **config):
    extra = {k: config.pop(k) for k in ("relative_tolerance", "numeric_strings") if k in config}
    return [(d.path, d.kind) for d in Normaliser(ParityConfig(**config), **extra).compare_json(ref, cand)]


def json_response(body, status=200, **headers) -> Response:
    return Response.of(status, {"Content-Type": "application/json", **headers}, json.dumps(body))


def test_key_order_is_irrelevant_and_changes_are_located_by_path() -> None:
    ref = {"Products": [{"Id": 1, "UnitPrice": "1.00"}, {"Id": 2, "UnitPrice": "2.00"}], "Total": 2}
    cand = {"Total": 2, "Products": [{"UnitPrice": "1.00", "Id": 1}, {"Id": 2, "UnitPrice": "2.50"}]}
    (d,) = Normaliser().compare_json(ref, cand)
    assert (d.path, d.field, d.kind, d.reference, d.candidate) == (
        "$.Products[1].UnitPrice", "$.Products[*].UnitPrice", "changed", "2.00", "2.50")


def test_missing_extra_and_type_differences() -> None:
    assert diffs({"a": 1, "b": 2}, {"a": 1, "c": 3}) == [("$.b", "missing"), ("$.c", "extra")]
    assert diffs({"a": [1, 2, 3]}, {"a": [1, 2]}) == [("$.a[2]", "missing")]
    assert diffs({"a": [1]}, {"a": [1, 9]}) == [("$.a[1]", "extra")]
    assert diffs({"a": None}, {"a": 0}) == [("$.a", "type")]
    assert diffs({"a": True}, {"a": 1}) == [("$.a", "type")]  # booleans are never numbers
    assert diffs({"a": {"x": 1}}, {"a": [1]}) == [("$.a", "type")]


def test_numeric_string_is_not_a_number_by_default_but_can_be_opted_in() -> None:
    assert diffs({"p": "12.50"}, {"p": 12.5}) == [("$.p", "type")]
    assert diffs({"p": "12.50"}, {"p": "12.5"}) == [("$.p", "changed")]
    assert diffs({"p": "12.50"}, {"p": 12.5}, numeric_strings=True) == []
    assert diffs({"p": "12.50"}, {"p": "12.5"}, numeric_strings=True) == []
    assert diffs({"p": "abc"}, {"p": 1}, numeric_strings=True) == [("$.p", "type")]


def test_integer_and_float_spellings_of_one_number_are_equal() -> None:
    assert diffs({"t": 25}, {"t": 25.0}) == []


def test_numeric_tolerance_absolute_and_relative() -> None:
    assert diffs({"t": 10.0}, {"t": 10.004}, numeric_tolerance=0.005) == []
    assert diffs({"t": 10.0}, {"t": 10.006}, numeric_tolerance=0.005) == [("$.t", "changed")]
    assert diffs({"t": 1000.0}, {"t": 1000.9}, relative_tolerance=0.001) == []
    assert diffs({"t": 1000.0}, {"t": 1002.0}, relative_tolerance=0.001) == [("$.t", "changed")]


@pytest.mark.parametrize("pattern,path", [
    ("$.Products[*].Created", ("Products", 4, "Created")),
    ("$..ServerTime", ("ServerTime",)),
    ("$..ServerTime", ("Meta", "Debug", "ServerTime")),
    ("$.Meta.*", ("Meta", "Anything")),
    ("$..[*].Stamp", ("A", 0, "Stamp")),
    ("$['odd key'][2]", ("odd key", 2)),
    ("$.Items[1].Id", ("Items", 1, "Id")),
])
def test_ignore_patterns_match(pattern: str, path: tuple) -> None:
    assert PathSet([pattern]).matches(path)


@pytest.mark.parametrize("pattern,path", [
    ("$.Products[*].Created", ("Products", 4, "Updated")),
    ("$.Products[*].Created", ("Other", 4, "Created")),
    ("$.Meta.*", ("Meta", "A", "B")),
    ("$.Items[1].Id", ("Items", 2, "Id")),
])
def test_ignore_patterns_do_not_overmatch(pattern: str, path: tuple) -> None:
    assert not PathSet([pattern]).matches(path)


@pytest.mark.parametrize("bad", ["Products.Id", "$.a[", "$.", "$..", "$.a[x]"])
def test_bad_patterns_are_refused_with_a_hint(bad: str) -> None:
    with pytest.raises(PathPatternError, match=r"JSON path|cannot read|must be followed|ends with"):
        compile_pattern(bad)


def test_ignored_paths_are_skipped_everywhere_they_match() -> None:
    ref = {"Products": [{"Id": 1, "Created": "a"}, {"Id": 2, "Created": "b"}], "ServerTime": "1",
           "Meta": {"ServerTime": "x"}}
    cand = {"Products": [{"Id": 1, "Created": "c"}, {"Id": 2, "Created": "d"}], "ServerTime": "2",
            "Meta": {"ServerTime": "y"}}
    assert diffs(ref, cand) != []
    assert diffs(ref, cand, ignore=["$.Products[*].Created", "$..ServerTime"]) == []


def test_unordered_lists_compare_as_multisets_and_report_changed_fields() -> None:
    ref = {"Items": [{"Id": 1, "V": "a"}, {"Id": 2, "V": "b"}, {"Id": 2, "V": "b"}]}
    same = {"Items": [{"Id": 2, "V": "b"}, {"Id": 1, "V": "a"}, {"Id": 2, "V": "b"}]}
    assert diffs(ref, same) != []
    assert diffs(ref, same, unordered=["$.Items"]) == []
    changed = {"Items": [{"Id": 2, "V": "b"}, {"Id": 1, "V": "z"}, {"Id": 2, "V": "b"}]}
    assert diffs(ref, changed, unordered=["$.Items"]) == [("$.Items[0].V", "changed")]
    fewer = {"Items": [{"Id": 2, "V": "b"}, {"Id": 1, "V": "a"}]}  # multiset: one {"Id": 2} is missing
    assert diffs(ref, fewer, unordered=["$.Items"]) == [("$.Items[2]", "missing")]


def test_unordered_elements_respect_ignores_inside_them() -> None:
    ref = {"Items": [{"Id": 1, "Stamp": "x"}, {"Id": 2, "Stamp": "y"}]}
    cand = {"Items": [{"Id": 2, "Stamp": "q"}, {"Id": 1, "Stamp": "r"}]}
    assert diffs(ref, cand, unordered=["$.Items"], ignore=["$.Items[*].Stamp"]) == []


def test_status_and_allow_listed_headers_only() -> None:
    n = Normaliser(ParityConfig(headers=["Content-Type", "X-Version"]))
    ref = json_response({"a": 1}, **{"X-Version": "1", "Date": "Mon"})
    cand = Response.of(404, {"content-type": "application/json", "x-version": "2", "date": "Tue"}, '{"a": 1}')
    assert [(d.path, d.kind, d.reference, d.candidate) for d in n.compare(ref, cand)] == [
        ("status", "status", 200, 404), ("header:x-version", "header", "1", "2")]


def test_non_json_bodies_compare_as_text() -> None:
    n = Normaliser()
    text = lambda body: Response.of(200, {"Content-Type": "text/plain"}, body)
    assert n.compare(text("hello"), text("hello")) == []
    (d,) = n.compare(text("hello"), text("world"))
    assert (d.path, d.kind, d.reference, d.candidate) == ("$", "changed", "hello", "world")
    (d,) = n.compare(json_response({"a": 1}), text("oops"))
    assert d.kind == "type" and d.reference == {"a": 1}


def test_whole_body_ignore_and_field_keys() -> None:
    n = Normaliser(ParityConfig(ignore=["$"]))
    assert n.compare(json_response({"a": 1}), json_response({"a": 2})) == []
    assert field_key(("Products", 3, "UnitPrice")) == "$.Products[*].UnitPrice"
    assert field_key(("a b", 0)) == "$['a b'][*]"


def test_normaliser_for_compiles_once_per_config_object() -> None:
    config = ParityConfig(ignore=["$..X"])
    assert normaliser_for(config) is normaliser_for(config)
    assert normaliser_for(ParityConfig(ignore=["$..X"])) is not normaliser_for(config)


def test_canonical_form_drops_ignored_and_sorts_unordered() -> None:
    n = Normaliser(ParityConfig(ignore=["$..T"], unordered=["$.L"]))
    assert n.canonical({"b": 1, "a": 2.0, "T": 3, "L": [3, 1, 2]}) == '{"L":[1,2,3],"a":2,"b":1}'
