"""The pruned comparison (issue 21: equal subtrees are not walked, only the normalise paths they would match
are noted; ints over 64 bits and booleans are looked for only where the bodies differ) finds exactly what the
full walk finds: differences, ignored differences, normalised pairs and matched rules, on varied nested bodies
under ignore, unordered and every normaliser rule."""
from __future__ import annotations

import json
import random
from typing import Any

import pytest

from proxy.parity import Normaliser, Response
from proxy.parity.normalise import Comparison
from proxy.table import ParityConfig

CONFIGS = {
    "none": ParityConfig(),
    "ignore": ParityConfig(ignore=["$.meta.ts", "$.items[*].tag", "$..secret", "$.items[1]"]),
    "unordered": ParityConfig(unordered=["$.items", "$..tags"], ignore=["$.items[*].tag"]),
    "rules": ParityConfig(
        normalise={"$.items[*].name": "case_insensitive", "$..when": "instant", "$.items[*].price": "number",
                   "$..note": "null_is_empty", "$.meta.id": "present", "$.never.here": "number"},
        instant_formats=["%d/%m/%Y %H:%M"], ignore=["$.items[*].tag", "$.items[*].nested"]),
    "rules_and_unordered": ParityConfig(
        normalise={"$..name": "case_insensitive", "$..when": "instant", "$..price": "number"},
        unordered=["$.items"], ignore=["$..secret"], numeric_tolerance=0.01),
}
WHENS = ["2024-02-01T10:00:00Z", "2024-02-01T10:00:00+00:00", "01/02/2024 10:00", "2024-02-01T11:00:00+01:00"]


def _item(rnd: random.Random, i: int) -> dict[str, Any]:
    item: dict[str, Any] = {"id": i, "name": rnd.choice(["Pen", "pen", "PEN", "Ink"]),
                            "price": rnd.choice([1, 1.0, "1", "1.00", 2, True]),
                            "when": rnd.choice(WHENS), "note": rnd.choice([None, "", "x"]),
                            "tag": rnd.choice(["a", "b"]), "tags": rnd.sample(["x", "y", "z"], 2),
                            "flag": rnd.choice([True, 1, False, 0]), "big": rnd.choice([2**70, 2**70 + 1, 2**64, 7])}
    if rnd.random() < 0.3:
        item["nested"] = {"secret": rnd.choice(["s1", "s2"]), "deep": [{"when": rnd.choice(WHENS)}]}
    return item


def _body(rnd: random.Random) -> dict[str, Any]:
    return {"items": [_item(rnd, i) for i in range(rnd.randint(0, 5))],
            "meta": {"ts": rnd.choice(["1", "2"]), "id": rnd.randint(1, 3), "secret": "k"},
            "total": rnd.choice([3, 3.0, 4])}


def _mutated(rnd: random.Random, value: Any) -> Any:
    """A copy of `value` with a few random edits: changed, removed or added keys, shorter or longer lists."""
    if isinstance(value, dict):
        out = {k: (_mutated(rnd, v) if rnd.random() < 0.3 else v) for k, v in value.items()}
        if out and rnd.random() < 0.1:
            out.pop(rnd.choice(list(out)))
        if rnd.random() < 0.05:
            out["added"] = 1
        return out
    if isinstance(value, list):
        out_list = [(_mutated(rnd, v) if rnd.random() < 0.3 else v) for v in value]
        if out_list and rnd.random() < 0.15:
            out_list.pop()
        if rnd.random() < 0.15:
            out_list.append(_item(rnd, 9))
        if rnd.random() < 0.1:
            rnd.shuffle(out_list)
        return out_list
    if rnd.random() < 0.5:
        return rnd.choice([None, "", "PEN", 1, 1.0, True, "2024-02-01T10:00:00Z", "01/02/2024 10:00", 2**70 + 2])
    return value


def _found(out: Comparison) -> tuple:
    def rows(diffs: list) -> list[tuple]:
        return [(d.path, d.kind, json.dumps(d.reference), json.dumps(d.candidate), d.field, d.rule) for d in diffs]
    return rows(out.differences), rows(out.ignored), rows(out.normalised), sorted(out.rules_matched)


def _both(config: ParityConfig, ref: Any, cand: Any, **options: Any) -> tuple[tuple, tuple]:
    def resp(value: Any) -> Response:
        return Response.of(200, {"content-type": "application/json"}, json.dumps(value).encode())
    pruned = Normaliser(config, **options).inspect(resp(ref), resp(cand))
    full = Normaliser(config, prune=False, **options).inspect(resp(ref), resp(cand))
    return _found(pruned), _found(full)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_pruned_walk_equals_full_walk_on_random_bodies(name):
    rnd = random.Random(f"parity-{name}")
    differing = normalised = matched = 0
    for _ in range(300):
        ref = _body(rnd)
        cand = _mutated(rnd, ref) if rnd.random() < 0.8 else json.loads(json.dumps(ref))
        pruned, full = _both(CONFIGS[name], ref, cand)
        assert pruned == full, (ref, cand)
        differing += bool(full[0])
        normalised += bool(full[2])
        matched += bool(full[3])
    assert differing > 50  # the inputs exercise differences, and (where rules exist) normalising and matching
    if CONFIGS[name].normalise:
        assert normalised >= 3 and matched > 10


def test_rules_matched_in_an_equal_subtree_are_still_noted():
    config = CONFIGS["rules"]
    body = {"items": [{"name": "Pen", "when": WHENS[0], "price": 1}], "meta": {"id": 1}, "other": 1}
    cand = {**body, "other": 2}
    pruned, full = _both(config, body, cand)
    assert pruned == full
    assert pruned[3] == ["$..when", "$.items[*].name", "$.items[*].price", "$.meta.id"]
    assert [d[0] for d in pruned[0]] == ["$.other"]


def test_equal_looking_values_under_rules_and_the_difference_limit():
    config = CONFIGS["rules"]
    ref = {"items": [{"name": "PEN", "price": "1.00", "note": None, "when": WHENS[2]}] * 3, "meta": {"id": 1}}
    cand = {"items": [{"name": "pen", "price": 1, "note": "", "when": WHENS[0]}] * 3, "meta": {"id": 2}}
    pruned, full = _both(config, ref, cand)
    assert pruned == full and not pruned[0] and len(pruned[2]) == 13
    many_ref = {"items": [{"id": i} for i in range(40)], "tail": {"when": WHENS[0]}}
    many_cand = {"items": [{"id": -i} for i in range(40)], "tail": {"when": WHENS[0]}}
    pruned, full = _both(config, many_ref, many_cand, max_differences=5)
    assert pruned == full and len(pruned[0]) == 5 and pruned[3] == []  # the walk stopped before "tail"


def test_bool_and_number_stay_different_when_pruning():
    pruned, full = _both(ParityConfig(), {"a": [1, {"b": True}], "c": [0]}, {"a": [True, {"b": 1}], "c": [False]})
    assert pruned == full and [d[:2] for d in pruned[0]] == [("$.a[0]", "type"), ("$.a[1].b", "type"),
                                                              ("$.c[0]", "type")]


def test_a_rule_only_inside_an_ignored_part_of_an_equal_subtree_is_not_matched():
    config = ParityConfig(ignore=["$.a.hidden"], normalise={"$.a.hidden.when": "instant", "$.a.seen": "present"})
    ref = {"a": {"hidden": {"when": WHENS[0]}, "seen": 1}, "x": 1}
    pruned, full = _both(config, ref, {**ref, "x": 2})
    assert pruned == full and pruned[3] == ["$.a.seen"]


@pytest.mark.parametrize(("ref", "cand"), [
    (b'{"a": [1, 2], "n": 123456789012345678901234567890}', b'{"a": [1, 2], "n": 123456789012345678901234567891}'),
    (b'{"n": 123456789012345678901234567890, "a": 1}', b'{"n": 123456789012345678901234567890, "a": 2}'),
    (b'{"n": 123456789012345678901234567890, "a": 1}', b'{"n": 1234567890123456789012345678901, "a": 1}'),
    (b'{"x": [1, {"n": 1180591620717411303424}], "t": 1}', b'{"x": [1, {"n": 1180591620717411303425}], "t": 1}'),
    (b'{"x": [0, 1], "b": true}', b'{"x": [0, 1], "b": 1}'),
    (b'{"x": [true, 1], "b": 0}', b'{"x": [1, true], "b": 0}'),
    (b'{"x": {"y": false}, "z": 1}', b'{"x": {"y": 0}, "z": 2}'),
    (b'{"a": 1}', b'{"a": 1, "n": 123456789012345678901234567890}'),
    (b'{"x": {"n": 1180591620717411303424, "y": 1}}', b'{"x": {"n": 1180591620717411303424, "y": 2}}'),
    (b'{"x": [{"n": 1180591620717411303424, "y": 1}]}', b'{"x": [{"n": 1180591620717411303424, "y": 2}, 3]}'),
])
def test_big_ints_and_booleans_where_bodies_differ_and_where_they_do_not(ref, cand):
    for config in (ParityConfig(), ParityConfig(unordered=["$.x"]), ParityConfig(normalise={"$.x": "present"})):
        found = [Normaliser(config, prune=prune).inspect(Response.of(200, {}, ref), Response.of(200, {}, cand))
                 for prune in (True, False)]
        assert _found(found[0]) == _found(found[1])
        exact = [d.candidate for d in found[0].differences if d.path == "$.n"]
        assert all(isinstance(v, int) for v in exact)  # never a float read from an int over 64 bits


def test_a_full_comparison_walks_no_body():
    config = ParityConfig(normalise={"$.a": "present"}, ignore=["$.b"])
    ref, cand = Response.of(200, {}, b'{"a": 1, "b": 1, "c": 1}'), Response.of(500, {}, b'{"a": 2, "b": 2, "c": 2}')
    found = [Normaliser(config, prune=prune, max_differences=1).inspect(ref, cand) for prune in (True, False)]
    assert _found(found[0]) == _found(found[1]) and [d.kind for d in found[0].differences] == ["status"]
    assert found[0].rules_matched == set() and found[0].ignored == []
