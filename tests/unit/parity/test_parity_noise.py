"""Diffy-style noise cancellation: thresholds, a noisy field cancelled, a real one kept, suggestions."""
from __future__ import annotations

import json

import pytest

from proxy.parity.noise import (
    FieldCounts,
    NoiseTracker,
    Thresholds,
    Verdict,
    ignore_suggestions,
    verdict,
)
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.result import RequestInfo, compare_exchange


def test_real_when_raw_clearly_exceeds_noise() -> None:
    assert verdict(FieldCounts(compared=1000, raw=50, noise_samples=100, noise=0)) is Verdict.REAL


def test_noise_when_legacy_differs_from_itself_as_often() -> None:
    assert verdict(FieldCounts(1000, 1000, 100, 100)) is Verdict.NOISE
    assert verdict(FieldCounts(1000, 550, 100, 50)) is Verdict.NOISE  # 55% vs 50%: relative 4.8% < 20%


def test_relative_threshold_boundary() -> None:
    # raw 60% vs noise 40%: relative = 0.2/1.0 = 20% -> not strictly above the default 20%
    assert verdict(FieldCounts(100, 60, 100, 40)) is Verdict.NOISE
    assert verdict(FieldCounts(100, 61, 100, 40)) is Verdict.REAL
    assert verdict(FieldCounts(100, 61, 100, 40), Thresholds(relative=0.5)) is Verdict.NOISE


def test_absolute_threshold_ignores_vanishingly_rare_differences() -> None:
    rare = FieldCounts(compared=100_000, raw=20, noise_samples=1000, noise=0)  # 0.02% < 0.03%
    assert verdict(rare) is Verdict.NONE
    assert verdict(rare, Thresholds(absolute=0.0001)) is Verdict.REAL
    assert verdict(FieldCounts(100_000, 40, 1000, 0)) is Verdict.REAL  # 0.04% > 0.03%


def test_thresholds_are_fractions() -> None:
    with pytest.raises(ValueError, match="fractions"):
        Thresholds(relative=20)


def test_suggestions_are_noise_json_paths_only() -> None:
    fields = [("$.ServerTime", Verdict.NOISE), ("$.Price", Verdict.REAL), ("header:date", Verdict.NOISE),
              ("$.Items[*].Stamp", Verdict.NOISE), ("$.Rare", Verdict.NONE)]
    assert ignore_suggestions(fields) == ["$.Items[*].Stamp", "$.ServerTime"]


def _exchange(i: int, *, price: str, again_time: int | None) -> tuple:
    body = lambda t, p: json.dumps({"Id": i, "ServerTime": t, "Price": p})
    ref = Response.of(200, {"content-type": "application/json"}, body(f"t{i}", "1.00"))
    cand = Response.of(200, {"content-type": "application/json"}, body(f"c{i}", price))
    again = None if again_time is None else Response.of(200, {"content-type": "application/json"},
                                                         body(f"t{again_time}", "1.00"))
    return ref, cand, again


def test_tracker_cancels_the_noisy_field_and_keeps_the_real_one() -> None:
    tracker, n = NoiseTracker(), Normaliser()
    kept = []
    for i in range(200):
        ref, cand, again = _exchange(i, price="9.99" if i % 4 == 0 else "1.00",
                                     again_time=i + 1 if i % 10 == 0 else None)
        result = compare_exchange(n, feature="f", route="/items/{id}", request=RequestInfo.of("GET", f"/items/{i}"),
                                  reference=ref, candidate=cand, reference_again=again)
        tracker.observe(result)
        kept.append({d.field for d in tracker.real_differences(result)})
    assert tracker.noisy_fields("f", "/items/{id}") == {"$.ServerTime"}
    verdicts = {name: v for _, _, name, _, v in tracker.snapshot()}
    assert verdicts == {"$.ServerTime": Verdict.NOISE, "$.Price": Verdict.REAL}
    # after the first noise sample ServerTime is never reported; every 4th request reports Price
    assert all("$.ServerTime" not in k for k in kept)
    assert sum("$.Price" in k for k in kept) == 50


def test_errors_are_not_counted_as_comparisons() -> None:
    tracker = NoiseTracker()
    result = compare_exchange(Normaliser(), feature="f", route="/r", request=RequestInfo.of("GET", "/r"),
                              reference=Response.of(200), candidate=None, error="connection refused")
    tracker.observe(result)
    assert result.is_error and tracker.counts("f", "/r", "$").compared == 0
