"""Review of the comparison's fast paths (issue 21: equal subtrees pruned, ints over 64 bits and booleans looked
for only from 18 bytes before the first differing byte, == trusted when no boolean is there): the pruned
comparison must find what the full walk (`Normaliser(prune=False)`) finds for JSON TEXT that differs in
formatting, escapes, key order, number spelling, booleans against 1/0 and big ints, under random rule sets.

One input still differs (xfail, strict; duplicate keys are outside the contract, docs/explanation/noise.md):
a duplicate key whose later value sits after the first differing byte. A 19+ digit int whose text the other
body continues with a fraction or exponent is read exactly (its digits are moved into the tail). NaN is left out of
the random bodies: the full walk reports NaN != NaN inside equal containers, which the code before the pruning
did only under a rule reaching them (test_nan_in_an_equal_container_...)."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from proxy.parity import Normaliser, Response
from proxy.parity.normalise import Comparison
from proxy.table import ParityConfig

JSON = {"content-type": "application/json"}
SCALARS = ["true", "false", "1", "0", "1.0", "1e0", "1E2", "100", "-0", "-0.0", "0.0", "2", "null", '""', '"x"',
           '"X"', '"\\u00e9"', '"é"', '"1"', '"1.0"', "123456789012345678901", "123456789012345678901.0",
           "1234567890123456789", "18446744073709551616", "1e20", "9007199254740993", "9007199254740993.0",
           '"2024-02-01T10:00:00Z"', '"2024-02-01T10:00:00+00:00"', "Infinity"]
KEYS = ["a", "b", "x", "when", "name", "id", "p"]
PATHS = ["$", "$.a", "$..x", "$.a[*]", "$..a", "$.b.x", "$..*", "$.a[0]", "$[*]"]
RULES = ["number", "case_insensitive", "null_is_empty", "instant", "present"]
SWAPS = [("true", "1"), ("1", "true"), ("false", "0"), ("0", "false"), ("1", "1.0"), ("1.0", "1"), ("2", "2.5"),
         ('"\\u00e9"', '"\u00e9"'), ('"x"', '"X"'), ("01", "1"), ("null", '""'), ("]", ", 1]"),
         ("8901", "8902"), ("89", "98")]
EDITS = [",", "]", "}", ".5", "e1", ".0", " ", '"\\u0061"', ', "a": 1', ', "a": true', ', "x": [1]', "true", "1"]


def _found(out: Comparison) -> tuple:
    def rows(diffs: list) -> list[tuple]:  # json.dumps tells 1 from 1.0 from True, and a big int from its float
        return [(d.path, d.kind, json.dumps(d.reference), json.dumps(d.candidate), d.field, d.rule) for d in diffs]
    return rows(out.differences), rows(out.ignored), rows(out.normalised), sorted(out.rules_matched)


def _both(config: ParityConfig, ref: bytes, cand: bytes, headers: Any = JSON, **options: Any) -> tuple[tuple, tuple]:
    pair = Response.of(200, headers, ref), Response.of(200, headers, cand)
    return (_found(Normaliser(config, **options).inspect(*pair)),
            _found(Normaliser(config, prune=False, **options).inspect(*pair)))


def _text(depth: int) -> st.SearchStrategy[str]:
    scalar = st.sampled_from(SCALARS)
    if depth <= 0:
        return scalar
    sub = _text(depth - 1)
    sep = st.sampled_from([",", ", ", ",\n"])
    arr = st.tuples(st.lists(sub, max_size=4), sep).map(lambda t: "[" + t[1].join(t[0]) + "]")
    obj = st.tuples(st.dictionaries(st.sampled_from(KEYS), sub, max_size=4), sep, st.sampled_from([":", ": "])).map(
        lambda t: "{" + t[1].join(f'"{k}"{t[2]}{v}' for k, v in t[0].items()) + "}")
    return st.one_of(scalar, arr, obj)


@st.composite
def _pairs(draw: st.DrawFn) -> tuple[bytes, bytes]:
    """A body and a second one that shares a long prefix with it: a token swapped, an edit, an insertion, a
    re-spacing or another body altogether."""
    ref = draw(st.one_of(_text(3).filter(lambda s: s[:1] in "[{"), _text(2).map(lambda s: f"[{s}]")))
    mode = draw(st.sampled_from(["swap", "swap", "digit", "edit", "insert", "spacing", "other"]))
    runs = [m.end() for m in re.finditer(r"\d{19,}", ref)]
    if mode == "digit" and runs:  # a long int's last digit changed: it differs only as an exact int
        i = draw(st.sampled_from(runs)) - 1
        cand = ref[:i] + str((int(ref[i]) + 1) % 10) + ref[i + 1:]
    elif mode == "swap":  # one token spelt or typed otherwise: true for 1, 1.0 for 1, an escape for its letter
        old, new = draw(st.sampled_from([s for s in SWAPS if s[0] in ref] or [("", "")]))
        at = [i for i in range(len(ref)) if ref.startswith(old, i)] if old else [0]
        i = draw(st.sampled_from(at))
        cand = ref[:i] + new + ref[i + len(old):]
    elif mode == "other":
        cand = draw(_text(3))
    elif mode == "spacing":
        cand = ref.replace(",", ", ") if draw(st.booleans()) else ref.replace(": ", ":")
    else:
        i = draw(st.integers(0, len(ref)))
        j = draw(st.integers(i, min(len(ref), i + 30))) if mode == "edit" else i
        cand = ref[:i] + draw(st.one_of(st.sampled_from(EDITS), _text(1))) + ref[j:]
    return ref.encode(), cand.encode()


def _no_duplicate_keys(body: bytes) -> bool:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise ValueError("duplicate key")
        return dict(items)
    try:
        json.loads(body, object_pairs_hook=pairs)
    except ValueError as exc:
        return str(exc) != "duplicate key"
    return True


_configs = st.builds(
    lambda ign, uno, nrm, tol: ParityConfig(ignore=ign, unordered=uno, normalise=nrm, numeric_tolerance=tol),
    st.lists(st.sampled_from(PATHS[1:]), max_size=2), st.lists(st.sampled_from(PATHS), max_size=1),
    st.dictionaries(st.sampled_from(PATHS), st.sampled_from(RULES), max_size=2), st.sampled_from([0, 0.5]))


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(_pairs(), _configs, st.sampled_from([200, 2]))
def test_pruned_equals_full_walk_on_json_text_pairs_under_random_rules(pair, config, limit):
    ref, cand = pair
    assume(_no_duplicate_keys(ref) and _no_duplicate_keys(cand))
    pruned, full = _both(config, ref, cand, max_differences=limit)
    assert pruned == full


@pytest.mark.parametrize(("ref", "cand", "expected"), [
    (b'{"a": [1, {"b": 1}], "z": 0}', b'{"a": [1.0, {"b": 1e0}], "z": 1}', [("$.z", "changed")]),
    (b'{"a": {"b": [true]}, "z": 0}', b'{"a": {"b": [1]}, "z": 0}', [("$.a.b[0]", "type")]),
    (b'{"a": {"b": [0]}, "z": 0}', b'{"a": {"b": [false]}, "z": 0}', [("$.a.b[0]", "type")]),
    (b'{"a": {"b": true}, "pad": "0123456789012345678901234567"}',
     b'{"a": {"b": true}, "pad": "0123456789012345678901234567x"}', [("$.pad", "changed")]),
    (b'{"a": ["\\u00e9", "x"], "z": 0}', b'{"a": ["\xc3\xa9", "x"], "z": 0}', []),
    (b'{"a": [-0, 1E2], "z": 0}', b'{"a": [0, 100], "z": 0}', []),
    (b'{"a": 1, "b": [2, 3]}', b'{"b": [2, 3], "a": 1}', []),
    (b'{"a": 1,\n "b": [2, 3]}', b'{"a":1,"b":[2,3]}', []),
    (b'{"a": [1, [2, [3]]], "z": 0}', b'{"a": [1, [2, [3, 4]]], "z": 0}', [("$.a[1][1][1]", "extra")]),
    (b'{"n": 1234567890123456789012, "z": 0}', b'{"n": 1234567890123456789012, "z": 1}', [("$.z", "changed")]),
    (b'{"n": [9007199254740993], "z": 0}', b'{"n": [9007199254740993.0], "z": 0}', []),
    (b'{"a": [1, 2]', b'{"a": [1, 2]}', [("$", "type")]),
    (b"", b"{}", [("$", "type")]),
    (b"", b"", []),
    (b"not json", b"not json either", [("$", "changed")]),
])
def test_bodies_equal_in_python_or_differing_only_in_spelling(ref, cand, expected):
    for config in (ParityConfig(), ParityConfig(ignore=["$..q"]), ParityConfig(normalise={"$..a": "number"})):
        pruned, full = _both(config, ref, cand)
        assert pruned == full
        assert [d[:2] for d in pruned[0]] == expected


def test_content_type_and_header_case():
    ref, cand = b'{"a": [true], "z": 1}', b'{"a": [1], "z": 1}'
    for headers in ({"Content-Type": "application/json"}, {"content-type": "text/plain"}, {}):
        pruned, full = _both(ParityConfig(headers=["x-v"]), ref, cand, headers={**headers, "X-V": "1"})
        assert pruned == full and [d[:2] for d in pruned[0]] == [("$.a[0]", "type")]
    text = Response.of(200, {"content-type": "text/plain"}, b"true"), Response.of(200, {}, b"1")
    assert [d.kind for d in Normaliser().inspect(*text).differences] == ["changed"]


@pytest.mark.parametrize("config", [ParityConfig(), ParityConfig(ignore=["$..q"]),
                                    ParityConfig(normalise={"$..*": "number"})])
def test_nan_in_an_equal_container_is_no_difference_with_or_without_a_rule(config):
    """Python's json reads every NaN as one object, so [NaN] == [NaN] while NaN != NaN: the pruned walk never
    reports NaN in an equal container. Before the pruning (9558859^) it did when any rule reached it, and
    `Normaliser(prune=False)` always does: NaN is outside the pruned-equals-full property."""
    found = Normaliser(config).inspect(Response.of(200, JSON, b'{"a": [NaN], "z": 0}'),
                                       Response.of(200, JSON, b'{"a": [NaN], "z": 1}'))
    assert [(d.path, d.kind) for d in found.differences] == [("$.z", "changed")] and found.normalised == []


PAD = b'"pad": "' + b"x" * 30 + b'"'


@pytest.mark.xfail(strict=True, reason="duplicate key: the later value of $.a is after the first differing byte, "
                   "but its container is pruned as == (True == 1) because no boolean is in the tails")
def test_a_duplicate_key_after_the_first_difference_keeps_bool_and_number_apart():
    ref = b'{"a": {"x": true}, ' + PAD + b"}"
    cand = b'{"a": {"x": true}, ' + PAD + b', "a": {"x": 1}}'
    pruned, full = _both(ParityConfig(), ref, cand)
    assert full[0] == [("$.a.x", "type", "true", "1", "$.a.x", "")]
    assert pruned == full


@pytest.mark.parametrize(("ref", "cand", "config"), [
    (b'{"a": 100000000000000000000}', b'{"a": 100000000000000000000e1}', ParityConfig()),
    (b'{"a": 100000000000000000001}', b'{"a": 100000000000000000001.0}', ParityConfig(normalise={"$.a": "number"})),
])
def test_a_long_int_continued_after_the_first_difference_is_read_exactly(ref, cand, config):
    pruned, full = _both(config, ref, cand)
    assert full[0] + full[2] and pruned == full
