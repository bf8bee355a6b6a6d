"""The one-string fast path (proxy/parity/splice.py, issue 21): two bodies that differ in the text of one string
value are compared from the frame the first such pair taught, without parsing either. It must find exactly what
the full walk (`Normaliser(prune=False)`) finds — differences, ignored differences, normalised pairs and matched
rules — for every pair, under random rules, with values that need escapes, keys that change, edits elsewhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.parity import Normaliser, Response
from proxy.parity.normalise import Comparison
from proxy.parity.splice import one_string
from proxy.table import ParityConfig

JSON = {"content-type": "application/json"}
KEYS = ["a", "b", "when", "name", "price", "note", "id", "odd key"]
STRINGS = [
    "",
    "x",
    "X",
    "pen",
    "PEN",
    "1",
    "1.0",
    "12.50",
    "12.5",
    "2024-02-01T10:00:00Z",
    "2024-02-01T11:00:00+01:00",
    "01/02/2024 10:00",
    "01/02/2024 10:01",
    'say "hi"',
    "back\\slash",
    "tab\t",
    "é",
    "\u2028",
    "😀",
    "a:b",
    "{",
    "]",
]
PATHS = ["$.a", "$..when", "$..name", "$..price", "$..note", "$..*", "$.b[*]", "$..id", "$['odd key']"]
RULES = ["number", "case_insensitive", "null_is_empty", "instant", "present"]


def _found(out: Comparison) -> tuple:
    def rows(diffs: list) -> list[tuple]:
        return [(d.path, d.kind, json.dumps(d.reference), json.dumps(d.candidate), d.field, d.rule) for d in diffs]

    return rows(out.differences), rows(out.ignored), rows(out.normalised), sorted(out.rules_matched)


def _value(depth: int) -> st.SearchStrategy[Any]:
    scalar = st.one_of(st.sampled_from(STRINGS), st.sampled_from([None, True, False, 0, 1, 2.5, 10**20]))
    if depth <= 0:
        return scalar
    sub = _value(depth - 1)
    return st.one_of(scalar, st.lists(sub, max_size=3), st.dictionaries(st.sampled_from(KEYS), sub, max_size=4))


def _string_leaves(value: Any, path: tuple = ()) -> list[tuple]:
    if isinstance(value, str):
        return [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [leaf for key, item in items for leaf in _string_leaves(item, (*path, key))]


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    if isinstance(value, dict):
        return {k: (_replaced(v, path[1:], new) if k == path[0] else v) for k, v in value.items()}
    return [(_replaced(v, path[1:], new) if i == path[0] else v) for i, v in enumerate(value)]


def _renamed(value: dict, old: str, new: str) -> dict:
    return {(new if k == old else k): v for k, v in value.items()}


@st.composite
def _bodies(draw: st.DrawFn) -> list[bytes]:
    """A document and variants of it: mostly one string leaf rewritten, sometimes a key renamed, a number
    changed or a second leaf rewritten too; one text layout for all of them."""
    doc = draw(st.dictionaries(st.sampled_from(KEYS), _value(3), min_size=1, max_size=5))
    doc["pad"] = "p" * draw(st.sampled_from([0, 30]))  # a string leaf in every document
    leaves = _string_leaves(doc)
    leaf = draw(st.sampled_from(leaves))
    other = draw(st.sampled_from(leaves))
    variants = [doc]
    for _ in range(draw(st.integers(2, 5))):
        kind = draw(st.sampled_from(["leaf", "leaf", "leaf", "leaf", "key", "number", "two"]))
        if kind == "key":
            variants.append(_renamed(doc, next(iter(doc)), draw(st.sampled_from(KEYS))))
        elif kind == "number":
            variants.append({**doc, "pad": 7})
        else:
            changed = _replaced(doc, leaf, draw(st.sampled_from(STRINGS)))
            if kind == "two":
                changed = _replaced(changed, other, draw(st.sampled_from(STRINGS)))
            variants.append(changed)
    ascii_only, spaced = draw(st.booleans()), draw(st.booleans())
    separators = (", ", ": ") if spaced else (",", ":")
    return [json.dumps(v, ensure_ascii=ascii_only, separators=separators).encode() for v in variants]


_configs = st.builds(
    lambda ign, uno, nrm, tol: ParityConfig(
        ignore=ign, unordered=uno, normalise=nrm, numeric_tolerance=tol, instant_formats=["%d/%m/%Y %H:%M"]
    ),
    st.lists(st.sampled_from(PATHS), max_size=2),
    st.lists(st.sampled_from(["$.b", "$..a"]), max_size=1),
    st.dictionaries(st.sampled_from(PATHS), st.sampled_from(RULES), max_size=2),
    st.sampled_from([0, 0.5]),
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(_bodies(), _configs, st.booleans())
def test_every_pair_equals_the_full_walk_with_one_memo_for_all(bodies, config, numeric_strings):
    fast = Normaliser(config, numeric_strings=numeric_strings)  # one memo: later pairs use earlier frames
    full = Normaliser(config, numeric_strings=numeric_strings, prune=False)
    for ref in bodies:
        for cand in bodies:
            pair = Response.of(200, JSON, ref), Response.of(200, JSON, cand)
            assert _found(fast.inspect(*pair)) == _found(full.inspect(*pair)), (ref, cand)


CATALOG = {
    "Products": [
        {"ProductId": i, "Name": f"Product {i}", "UnitPrice": f"{i}.50", "Created": "01/02/2024 10:00"}
        for i in range(1, 6)
    ],
    "Page": 1,
    "ServerTime": "07/12/2026 06:00:00.000000001",
}


def _page(**changes: Any) -> bytes:
    return json.dumps({**CATALOG, **changes}).encode()


def _no_parse(normaliser: Normaliser, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any) -> None:
        raise AssertionError("parsed: the pair should have been answered from its frame")

    monkeypatch.setattr(normaliser, "_parsed_bodies", refuse)


@pytest.mark.parametrize(
    ("config", "where"),
    [
        (ParityConfig(), "differences"),
        (ParityConfig(ignore=["$.ServerTime"]), "ignored"),
        (ParityConfig(ignore=["$"]), "ignored"),
        (ParityConfig(normalise={"$.ServerTime": "case_insensitive"}), "differences"),
    ],
)
def test_a_learned_frame_answers_later_pairs_without_parsing(config, where, monkeypatch):
    normaliser, full = Normaliser(config), Normaliser(config, prune=False)
    first = Response.of(200, JSON, _page(ServerTime="a")), Response.of(200, JSON, _page(ServerTime="b"))
    assert _found(normaliser.inspect(*first)) == _found(full.inspect(*first))
    _no_parse(normaliser, monkeypatch)
    for ref, cand in (("c", "dd"), ("", "e"), ("f", ""), ("2024", "2024-01")):
        pair = Response.of(200, JSON, _page(ServerTime=ref)), Response.of(200, JSON, _page(ServerTime=cand))
        got = normaliser.inspect(*pair)
        assert _found(got) == _found(full.inspect(*pair))
        assert [d.path for d in getattr(got, where)] == ["$.ServerTime"]


def test_a_normalised_pair_from_a_frame_lists_its_rule(monkeypatch):
    config = ParityConfig(
        normalise={"$.Products[*].Created": "instant", "$.Nowhere": "number"},
        instant_formats=["%d/%m/%Y %H:%M"],
        instant_zone="UTC",
    )
    normaliser, full = Normaliser(config), Normaliser(config, prune=False)

    def page(created: str) -> Response:
        products = [dict(p) for p in CATALOG["Products"]]
        products[2]["Created"] = created
        return Response.of(200, JSON, _page(Products=products))

    first = page("01/02/2024 10:00"), page("2024-02-01T10:00:00Z")
    assert _found(normaliser.inspect(*first)) == _found(full.inspect(*first))
    _no_parse(normaliser, monkeypatch)
    pair = page("01/02/2024 11:00"), page("2024-02-01T11:00:00+00:00")
    got = normaliser.inspect(*pair)
    assert _found(got) == _found(full.inspect(*pair))
    assert [(d.path, d.rule) for d in got.normalised] == [("$.Products[2].Created", "instant")]
    assert got.rules_matched == {"$.Products[*].Created"}


@pytest.mark.parametrize(
    ("ref", "cand"),
    [
        (b'{"a": "x", "b": 1}', b'{"a": "x", "b": 2}'),  # a number, not a string
        (b'{"ab": 1}', b'{"ac": 1}'),  # an object key
        (b'{"a": "x\\"", "b": "y"}', b'{"a": "x\\"", "b": "z"}'),  # an escape before the difference
        (b'{"a": "x", "b": "y"}', b'{"a": "x", "b": "y\\n"}'),  # an escape in the differing string
        (b'{"a": "x", "b": "y"}', b'{"a": "x", "b": "y", "c": "z"}'),  # a quote in the differing stretch
        (b' {"a": "x"}', b' {"a": "y"}'),  # not starting with { or [
        (b'"x"', b'"y"'),  # a bare string document
        (b'{"a": "x"}', b'{"a": "x"}'),  # equal
    ],
)
def test_what_is_not_one_string(ref, cand):
    assert one_string(ref, cand) is None


def test_one_string_finds_the_literal_content_on_both_sides():
    ref, cand = b'{"a": [1, "xyz"], "b": "q"}', b'{"a": [1, "xYYz"], "b": "q"}'
    site = one_string(ref, cand)
    assert site is not None
    assert (ref[site.start : site.ref_end], cand[site.start : site.cand_end]) == (b"xyz", b"xYYz")


def test_no_frame_under_rules_that_pair_or_report_whole_values():
    assert Normaliser(ParityConfig(unordered=["$.Products"]))._splices is None
    assert Normaliser(ParityConfig(normalise={"$.ServerTime": "present"}))._splices is None
    assert Normaliser(prune=False)._splices is None
    assert Normaliser()._splices is not None


def test_a_pair_outside_the_frame_or_with_header_differences_is_compared_in_full():
    normaliser, full = Normaliser(ParityConfig(headers=["x-v"])), Normaliser(ParityConfig(headers=["x-v"]), prune=False)
    pairs = [
        (_page(ServerTime="a"), _page(ServerTime="b")),
        (_page(ServerTime="a", Page=2), _page(ServerTime="b", Page=2)),  # another frame: learned anew
        (_page(ServerTime="a"), _page(ServerTime="b", Page=2)),  # two places differ
        (_page(ServerTime="a"), _page(ServerTime="b\u00e9")),
    ]
    for ref, cand in pairs:
        for headers in ({"x-v": "1"}, {"x-v": "2"}):
            pair = Response.of(200, JSON, ref), Response.of(200, {**JSON, **headers}, cand)
            assert _found(normaliser.inspect(*pair)) == _found(full.inspect(*pair))
