"""Recent-traffic window over the façade's Prometheus collectors: rates, error rates, quantiles."""
from __future__ import annotations

import math

import pytest

from proxy.dashboard.window import MetricsWindow, quantile
from proxy.metrics import FacadeMetrics

BOUNDS = (0.01, 0.1, 1.0, math.inf)


@pytest.mark.parametrize("cumulative,q,expected", [
    ((0, 10, 10, 10), 0.5, 0.055),   # all 10 in (0.01, 0.1]: rank 5 is half way through that bucket
    ((10, 10, 10, 10), 0.95, 0.0095),  # all in the first bucket, interpolated from 0
    ((5, 5, 10, 10), 0.5, 0.01),     # rank 5 is the last of the first bucket
    ((0, 0, 0, 4), 0.95, 1.0),       # beyond the largest finite bound: that bound
    ((0, 0, 0, 0), 0.5, None),       # no observations
])
def test_quantile_interpolates_inside_the_bucket(cumulative, q, expected):
    got = quantile(q, BOUNDS, tuple(float(c) for c in cumulative))
    assert got == (None if expected is None else pytest.approx(expected))


def test_window_counts_only_recent_traffic_per_feature_and_upstream():
    now = [100.0]
    metrics = FacadeMetrics()
    window = MetricsWindow(metrics, window_s=60, clock=lambda: now[0])
    for _ in range(9):
        metrics.observe("items", "svc", "canary", 200, 0.004)
    metrics.observe("items", "svc", "canary", 502, 0.2)
    metrics.observe("items", "legacy", "canary", 200, 0.02)
    now[0] += 10
    span, stats = window.stats()
    svc = stats[("items", "svc")]
    assert span == pytest.approx(10)
    assert svc["window_requests"] == 10 and svc["rate_rps"] == pytest.approx(1.0)
    assert svc["error_rate"] == pytest.approx(0.1) and svc["errors_total"] == 1
    assert 2.5 <= svc["p50_ms"] <= 5 and 100 <= svc["p95_ms"] <= 250
    assert stats[("items", "legacy")]["window_requests"] == 1

    now[0] += 100  # the old traffic leaves the window; only what follows counts
    window.stats()
    metrics.observe("items", "svc", "canary", 200, 0.03)
    now[0] += 5
    _, stats = window.stats()
    svc = stats[("items", "svc")]
    assert svc["window_requests"] == 1 and svc["error_rate"] == 0 and svc["requests_total"] == 11
    assert 25 <= svc["p95_ms"] <= 50
    assert stats[("items", "legacy")]["window_requests"] == 0 and stats[("items", "legacy")]["p95_ms"] is None
    assert stats[("items", "legacy")]["p95_all_ms"] is not None
