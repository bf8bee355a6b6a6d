"""load.figures.service_vs_monolith: the one service-vs-monolith table of bench_catalog and bench_orders."""
from __future__ import annotations

import pytest

from load.figures import service_vs_monolith


def _rounds(req_s: float, p95: float, failed: float = 0) -> list[dict[str, float]]:
    return [{"req/s": req_s + i, "p95 ms": p95, "failed": failed} for i in range(6)]


def test_ratios_are_judged_in_each_metrics_direction(capsys: pytest.CaptureFixture[str]) -> None:
    results = {"get": {"monolith": _rounds(100, 10), "service": _rounds(120, 12, failed=1)}}
    figures = service_vs_monolith("things", results, (("req/s", True), ("p95 ms", False)),
                                  {"req/s": 1.0, "p95 ms": 1.0}, "failed")
    by_name = {f["name"]: f for f in figures}
    assert by_name["things get req/s service/monolith"]["verdict"] == "met"      # faster: higher is better
    assert by_name["things get p95 ms service/monolith"]["verdict"] == "missed"  # slower: lower is better
    assert by_name["things get p95 ms service/monolith"]["value"] == pytest.approx(1.2)
    assert "WARNING: 6 failed answers in get rounds" in capsys.readouterr().out


def test_a_round_without_answers_is_left_out_not_divided_by(capsys: pytest.CaptureFixture[str]) -> None:
    stalled = {"req/s": 0.0, "p95 ms": float("inf"), "failed": 0}
    results = {"get": {"monolith": [*_rounds(100, 10), stalled], "service": [*_rounds(100, 9), _rounds(1, 1)[0]]}}
    figures = service_vs_monolith("things", results, (("req/s", True), ("p95 ms", False)),
                                  {"req/s": 1.0, "p95 ms": 1.0}, "failed")
    p95 = {f["name"]: f for f in figures}["things get p95 ms service/monolith"]
    assert p95["value"] == pytest.approx(0.9) and p95["interval"][3] == 6
    assert "1 of 7 get rounds left out" in capsys.readouterr().out


def test_no_round_with_answers_gives_no_figure(capsys: pytest.CaptureFixture[str]) -> None:
    stalled = [{"req/s": 0.0, "p95 ms": float("inf"), "failed": 0}] * 6
    assert service_vs_monolith("things", {"get": {"monolith": stalled, "service": stalled}},
                               (("req/s", True),), {"req/s": 1.0}, "failed") == []
    assert "6 of 6 get rounds left out" in capsys.readouterr().out
