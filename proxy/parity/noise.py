"""Noise cancellation, after Diffy: a field is a REAL difference only if legacy-vs-candidate differs on it
clearly more often than legacy-vs-legacy does.

Per feature + route + field we count raw differences (legacy vs candidate, over `compared` requests) and
noise differences (legacy vs legacy again, over the `noise_samples` requests that were asked twice).
Because noise is only sampled, we compare RATES (Diffy compares counts over one population):

    raw_rate   = raw / compared            noise_rate = noise / noise_samples
    relative   = |raw_rate - noise_rate| / (raw_rate + noise_rate)
    absolute   = raw_rate - noise_rate
    real  <=>  raw_rate > noise_rate and relative > relative_threshold and absolute > absolute_threshold

Defaults follow Diffy: relative 20 %, absolute 0.03 % (written here as fractions 0.20 and 0.0003).
A field with noise > 0 that is not real is "noise" and is proposed as an ignore rule.
"""
from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from proxy.parity.normalise import Difference
from proxy.parity.result import ComparisonResult

DEFAULT_RELATIVE = 0.20
DEFAULT_ABSOLUTE = 0.0003


class Verdict(StrEnum):
    REAL = "real"    # differs legacy-vs-candidate significantly more than legacy-vs-legacy
    NOISE = "noise"  # differs legacy-vs-legacy too, and not significantly more against the candidate
    NONE = "none"    # differs too rarely to call (below the thresholds) and never seen as noise


@dataclass(frozen=True, slots=True)
class Thresholds:
    relative: float = DEFAULT_RELATIVE
    absolute: float = DEFAULT_ABSOLUTE

    def __post_init__(self) -> None:
        if not 0 <= self.relative <= 1 or not 0 <= self.absolute <= 1:
            raise ValueError("noise thresholds are fractions between 0 and 1 (e.g. relative 0.2, absolute 0.0003)")


@dataclass(frozen=True, slots=True)
class FieldCounts:
    compared: int          # requests compared legacy-vs-candidate on this route
    raw: int               # of which differed on this field
    noise_samples: int     # requests also asked legacy twice on this route
    noise: int             # of which legacy differed from itself on this field

    @property
    def raw_rate(self) -> float:
        return self.raw / self.compared if self.compared else 0.0

    @property
    def noise_rate(self) -> float:
        return self.noise / self.noise_samples if self.noise_samples else 0.0


def verdict(counts: FieldCounts, thresholds: Thresholds = Thresholds()) -> Verdict:
    raw, noise = counts.raw_rate, counts.noise_rate
    if raw > noise and raw + noise > 0:
        relative = (raw - noise) / (raw + noise)
        if relative > thresholds.relative and raw - noise > thresholds.absolute:
            return Verdict.REAL
    return Verdict.NOISE if counts.noise > 0 else Verdict.NONE


def ignore_suggestions(fields: Iterable[tuple[str, Verdict]]) -> list[str]:
    """Noise fields usable as `parity.ignore` rules (JSON paths only; status/header noise is not ignorable
    by a path — narrow `parity.headers` instead), sorted, without duplicates."""
    return sorted({f for f, v in fields if v is Verdict.NOISE and f.startswith("$")})


class NoiseTracker:
    """In-memory counters for one process (Locust user, façade shadow addon): which fields are noisy NOW.

    Used to decide per request whether a difference is real before the store has flushed anything.
    Thread-safe; `observe` is O(fields differing) under one lock.
    """

    def __init__(self, thresholds: Thresholds = Thresholds()):
        self.thresholds = thresholds
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # compared, noise_samples
        # per route, its fields' [raw, noise]: a verdict looks at its own route's fields only
        self._fields: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)

    def observe(self, result: ComparisonResult) -> None:
        if result.is_error:
            return
        key = (result.feature, result.route)
        with self._lock:
            totals, fields = self._routes[key], self._fields[key]
            totals[0] += 1
            for name in result.differing_fields():
                fields.setdefault(name, [0, 0])[0] += 1
            if result.noise is not None:
                totals[1] += 1
                for name in result.noise_fields():
                    fields.setdefault(name, [0, 0])[1] += 1

    def counts(self, feature: str, route: str, name: str) -> FieldCounts:
        with self._lock:
            compared, samples = self._routes.get((feature, route), (0, 0))
            raw, noise = self._fields.get((feature, route), {}).get(name, (0, 0))
        return FieldCounts(compared, raw, samples, noise)

    def noisy_fields(self, feature: str, route: str) -> set[str]:
        """Fields of this route currently judged noise (seen differing legacy-vs-legacy, not significantly
        more often against the candidate)."""
        with self._lock:
            compared, samples = self._routes.get((feature, route), (0, 0))
            seen = [(name, FieldCounts(compared, c[0], samples, c[1]))
                    for name, c in self._fields.get((feature, route), {}).items() if c[1]]
        return {name for name, c in seen if verdict(c, self.thresholds) is Verdict.NOISE}

    def real_differences(self, result: ComparisonResult) -> list[Difference]:
        """`result`'s differences minus this request's noise and the fields known to be noisy."""
        return result.real_differences(self.noisy_fields(result.feature, result.route))

    def snapshot(self) -> list[tuple[str, str, str, FieldCounts, Verdict]]:
        with self._lock:
            keys = [(*route, name) for route, fields in self._fields.items() for name in fields]
        rows = [(feat, route, name, self.counts(feat, route, name)) for feat, route, name in keys]
        return [(*row, verdict(row[3], self.thresholds)) for row in sorted(rows, key=lambda r: r[:3])]
