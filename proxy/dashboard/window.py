"""Recent traffic per (feature, upstream) from the façade's own Prometheus collectors.

Why a window and not the raw counters: an operator deciding a flip needs "how is it doing NOW", not totals
since the façade started. Each dashboard poll takes a cumulative reading (counters and histogram buckets,
read in-process, no text parsing) and the difference to the oldest reading kept within `window_s` gives the
request rate, error rate and p50/p95 over that span, the way Prometheus' `histogram_quantile(rate(...))`
does. The window starts with an all-zero reading taken when the admin app starts, so the first poll
already covers everything since then. No poll, no work: the hot path is untouched.
"""
from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from proxy.metrics import FacadeMetrics

Key = tuple[str, str]  # (feature, upstream)


@dataclass(frozen=True, slots=True)
class Reading:
    """Cumulative totals of one (feature, upstream) at one moment."""

    requests: float = 0.0
    errors: float = 0.0  # answers with a 5xx status (the façade's own 502/504 for upstream failures included)
    buckets: tuple[float, ...] = ()  # cumulative histogram counts, one per bound in `bounds` (+Inf last)

    def minus(self, older: Reading) -> Reading:
        if len(older.buckets) != len(self.buckets):  # the older reading predates this key's histogram
            return Reading(self.requests - older.requests, self.errors - older.errors, self.buckets)
        return Reading(self.requests - older.requests, self.errors - older.errors,
                       tuple(a - b for a, b in zip(self.buckets, older.buckets, strict=True)))


@dataclass(slots=True)
class Snapshot:
    at: float
    readings: dict[Key, Reading] = field(default_factory=dict)


def quantile(q: float, bounds: tuple[float, ...], cumulative: tuple[float, ...]) -> float | None:
    """Histogram quantile with linear interpolation inside the bucket (Prometheus' method). Seconds."""
    if not cumulative or cumulative[-1] <= 0:
        return None
    rank = q * cumulative[-1]
    for i, count in enumerate(cumulative):
        if count >= rank:
            if math.isinf(bounds[i]):
                return bounds[i - 1] if i > 0 else None  # above the largest finite bound: report that bound
            lower, below = (bounds[i - 1], cumulative[i - 1]) if i > 0 else (0.0, 0.0)
            inside = count - below
            return lower + (bounds[i] - lower) * ((rank - below) / inside if inside else 1.0)
    return None


def read_metrics(metrics: FacadeMetrics) -> tuple[tuple[float, ...], dict[Key, Reading]]:
    """(bucket bounds, cumulative readings per (feature, upstream)) read from the collectors in-process."""
    requests: dict[Key, list[float]] = {}
    for metric in metrics.requests.collect():
        for s in metric.samples:
            if s.name.endswith("_total"):
                key = (s.labels["feature"], s.labels["upstream"])
                acc = requests.setdefault(key, [0.0, 0.0])
                acc[0] += s.value
                if s.labels["status_class"] == "5xx":
                    acc[1] += s.value
    buckets: dict[Key, dict[float, float]] = {}
    for metric in metrics.latency.collect():
        for s in metric.samples:
            if s.name.endswith("_bucket"):
                key = (s.labels["feature"], s.labels["upstream"])
                buckets.setdefault(key, {})[float(s.labels["le"])] = s.value
    bounds = tuple(sorted(next(iter(buckets.values())))) if buckets else ()
    readings = {}
    for key in requests.keys() | buckets.keys():
        req, err = requests.get(key, (0.0, 0.0))
        per_bound = buckets.get(key, {})
        readings[key] = Reading(req, err, tuple(per_bound.get(b, 0.0) for b in bounds))
    return bounds, readings


class MetricsWindow:
    """Keeps readings taken at poll time; `stats()` answers per (feature, upstream) over the last window."""

    def __init__(self, metrics: FacadeMetrics, window_s: float = 60.0, max_readings: int = 1000,
                 clock: Callable[[], float] = time.monotonic):
        self.metrics, self.window_s, self._clock = metrics, window_s, clock
        self._history: deque[Snapshot] = deque(maxlen=max_readings)
        self._bounds: tuple[float, ...] = ()
        self._history.append(Snapshot(clock()))  # all zeros: the window starts when the admin app starts

    def stats(self) -> tuple[float, dict[Key, dict[str, Any]]]:
        """(seconds the window actually spans, {key: stats dict}). Takes a new reading."""
        now = self._clock()
        bounds, readings = read_metrics(self.metrics)
        if bounds:
            self._bounds = bounds
        self._history.append(Snapshot(now, readings))
        while len(self._history) > 2 and self._history[1].at <= now - self.window_s:
            self._history.popleft()  # keep exactly one reading at or before the window start as the baseline
        base = self._history[0]
        span = max(now - base.at, 1e-9)
        out: dict[Key, dict[str, Any]] = {}
        for key, total in readings.items():
            recent = total.minus(base.readings.get(key, Reading()))
            out[key] = {
                "requests_total": int(total.requests), "errors_total": int(total.errors),
                "window_requests": int(recent.requests), "window_errors": int(recent.errors),
                "rate_rps": recent.requests / span,
                "error_rate": (recent.errors / recent.requests) if recent.requests else None,
                "p50_ms": _ms(quantile(0.50, self._bounds, recent.buckets)),
                "p95_ms": _ms(quantile(0.95, self._bounds, recent.buckets)),
                "p95_all_ms": _ms(quantile(0.95, self._bounds, total.buckets)),
            }
        return span, out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
