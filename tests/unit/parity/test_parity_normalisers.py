"""Normalisers beside ignore/unordered (proxy/parity/rules.py): equal after normalising, reported by rule."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from proxy.parity import Normaliser, RequestInfo, Response, compare_exchange
from proxy.table import ParityConfig, TableError, load_table


def inspect(ref: dict, cand: dict, **config):
    return Normaliser(ParityConfig(**config)).inspect_json(ref, cand)


def test_instant_same_moment_any_notation_and_declared_legacy_format():
    found = inspect({"t": "2026-03-01T10:00:00+00:00"}, {"t": "2026-03-01T10:00:00Z"}, normalise={"$.t": "instant"})
    assert found.differences == [] and [(d.path, d.kind, d.rule) for d in found.normalised] == [("$.t", "normalised",
                                                                                                  "instant")]
    legacy = inspect({"t": "01/07/2026 11:00"}, {"t": "2026-07-01T10:00:00Z"}, normalise={"$.t": "instant"},
                     instant_formats=["%d/%m/%Y %H:%M"], instant_zone="Europe/London")  # BST: UTC+1
    assert legacy.differences == [] and legacy.normalised[0].rule == "instant"
    later = inspect({"t": "2026-03-01T10:00:00Z"}, {"t": "2026-03-01T10:00:01Z"}, normalise={"$.t": "instant"})
    assert [(d.path, d.kind) for d in later.differences] == [("$.t", "changed")] and not later.normalised
    assert inspect({"t": "soon"}, {"t": "2026-03-01T10:00:00Z"}, normalise={"$.t": "instant"}).differences


def test_number_case_null_and_present():
    rules = {"$.n": "number", "$.c": "case_insensitive", "$.e": "null_is_empty", "$..id": "present"}
    found = inspect({"n": 1, "c": "Shipped", "e": None, "x": {"id": 7}, "m": 1},
                    {"n": "1.0", "c": "SHIPPED", "e": "", "x": {"id": "a-1"}, "m": 1}, normalise=rules)
    assert found.differences == []
    assert {d.path: d.rule for d in found.normalised} == {"$.n": "number", "$.c": "case_insensitive",
                                                          "$.e": "null_is_empty", "$.x.id": "present"}
    assert found.rules_matched == set(rules)
    wrong = inspect({"n": "one", "e": None, "c": "a"}, {"n": 1, "e": "x", "c": "b"}, normalise=rules)
    assert [d.path for d in wrong.differences] == ["$.n", "$.e", "$.c"]
    missing = inspect({"x": {"id": 1}}, {"x": {}}, normalise=rules)  # present means present on BOTH sides
    assert [(d.path, d.kind) for d in missing.differences] == [("$.x.id", "missing")]


def test_ignored_differences_are_kept_apart_and_unmatched_rules_are_visible():
    found = inspect({"a": 1, "at": "x", "l": [{"t": 1}]}, {"a": 1, "at": "y", "l": [{"t": 2}]},
                    ignore=["$.at", "$.l[*].t"], normalise={"$.nothere": "instant"})
    assert found.differences == [] and [d.field for d in found.ignored] == ["$.at", "$.l[*].t"]
    assert found.rules_matched == set()


@pytest.mark.parametrize(("ref", "cand", "kind"), [
    (("text/plain", b"pong"), ("text/plain", b"pong!"), "changed"),
    (("application/json", b"{not json"), ("application/json", b"{not json either"), "changed"),
    (("application/json", b'{"a": 1}'), ("text/html", b"<h1>oops</h1>"), "type"),
    (("application/octet-stream", b"\xff\x00"), ("application/octet-stream", b"\xfe"), "changed"),
])
def test_bodies_that_are_not_json_are_compared_as_text(ref, cand, kind):
    result = compare_exchange(Normaliser(), feature="f", route="/r", request=RequestInfo.of("GET", "/r"),
                              reference=Response.of(200, {"content-type": ref[0]}, ref[1]),
                              candidate=Response.of(200, {"content-type": cand[0]}, cand[1]))
    assert [(d.path, d.kind) for d in result.differences] == [("$", kind)]
    assert result.cause.cause.value == ("content_type" if ref[0] != cand[0] else "body")


def test_a_normalised_comparison_has_its_own_cause():
    n = Normaliser(ParityConfig(normalise={"$.p": "number"}))
    result = compare_exchange(n, feature="f", route="/r", request=RequestInfo.of("GET", "/r"),
                              reference=Response.of(200, {"content-type": "application/json"}, b'{"p": 1}'),
                              candidate=Response.of(200, {"content-type": "application/json"}, b'{"p": "1"}'))
    assert (result.cause.cause.value, result.cause.label) == ("normalised", "number")


def test_a_rule_typo_names_file_and_line(tmp_path: Path):
    routes = tmp_path / "routes.yaml"
    routes.write_text("upstreams:\n  legacy: {url: 'http://127.0.0.1:5000'}\n  svc: {url: 'http://127.0.0.1:5001'}\n"
                      "default: legacy\nfeatures:\n  f:\n    target: svc\n    routes: [{methods: [GET], path: /a}]\n"
                      "    parity:\n      normalise:\n        '$.created': instnat\n")
    with pytest.raises(TableError) as err:
        load_table(routes)
    text = str(err.value)
    assert f"{routes}:11" in text and "instant" in text, text
    json.dumps(text)


@pytest.mark.parametrize("parity", [{"ignore": ["$.a["]}, {"normalise": {"$.a..": "instant"}}])
def test_a_path_the_normaliser_cannot_read_fails_validation_not_the_facade(parity):
    with pytest.raises(ValueError, match="bad_json_path"):
        ParityConfig(**parity)
