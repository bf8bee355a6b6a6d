"""Statistics shared by the benchmarks: paired ratios, the median with a distribution-free 95 % interval,
and the verdict against a target that says "inconclusive" when the interval straddles it.

Why order statistics: benchmark rounds on a shared machine are neither normal nor independent of drift;
pairing each measurement with its neighbour removes the drift, and the interval for the median of the paired
ratios needs no assumption about their distribution (the number of ratios below the true median is
Binomial(n, 1/2)).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Interval:
    median: float
    low: float
    high: float
    coverage: float  # exact coverage of [low, high] for the median (>= the level asked for), 0.0 if n too small
    n: int

    def text(self, digits: int = 3) -> str:
        if not self.coverage:
            return f"{self.median:.{digits}f} (n={self.n}: too few rounds for an interval)"
        return (f"{self.median:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}] "
                f"({self.coverage:.1%} interval, n={self.n})")

    def verdict(self, target: float, higher_is_better: bool = True) -> str:
        """verdict() over the interval; without an interval (too few rounds) nothing is decided."""
        return verdict(self.low, self.high, target, higher_is_better) if self.coverage else "inconclusive"


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratio of each round's measurement to the one taken next to it."""
    if len(numerators) != len(denominators):
        raise ValueError(f"paired ratios need as many numerators as denominators ({len(numerators)} vs "
                         f"{len(denominators)}). Fix: measure both arms in every round")
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def median_interval(values: Sequence[float], level: float = 0.95) -> Interval:
    """Median and the order-statistic interval [x_(k), x_(n+1-k)] with the largest k whose exact coverage
    1 - 2 P(B < k), B ~ Binomial(n, 1/2), is still >= `level`. Fewer than 6 values cannot give 95 %."""
    xs = sorted(values)
    n = len(xs)
    if n == 0:
        raise ValueError("no values. Fix: run at least one round")
    med = statistics.median(xs)
    best_k, coverage, below = 0, 0.0, 0.0
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1) / 2 ** n  # P(B <= k - 1)
        if 1 - 2 * below < level:
            break
        best_k, coverage = k, 1 - 2 * below
    if not best_k:
        return Interval(med, med, med, 0.0, n)
    return Interval(med, xs[best_k - 1], xs[n - best_k], coverage, n)


def verdict(low: float, high: float, target: float, higher_is_better: bool = True) -> str:
    """'met' when the whole interval is on the good side of the target, 'missed' when all of it is on the
    bad side, else 'inconclusive'. A single figure is the interval [x, x]."""
    good_low, good_high = (low >= target, high >= target) if higher_is_better else (high <= target, low <= target)
    return "met" if good_low else "missed" if not good_high else "inconclusive"
