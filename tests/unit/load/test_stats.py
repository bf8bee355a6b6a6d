"""load/stats.py: the order-statistic interval for the median and the verdict the benchmarks print."""
from __future__ import annotations

import math
import random

import pytest

from load.stats import median_interval, paired_ratios, verdict


def test_interval_of_known_data_uses_the_exact_binomial_order_statistics() -> None:
    # n = 12: P(B <= 2) = 79/4096, so k = 3 gives coverage 1 - 158/4096 = 0.9614; k = 4 would be 0.854
    values = [12, 1, 11, 2, 10, 3, 9, 4, 8, 5, 7, 6]
    iv = median_interval(values)
    assert (iv.median, iv.low, iv.high, iv.n) == (6.5, 3, 10, 12)
    assert iv.coverage == pytest.approx(1 - 2 * 79 / 4096)


def test_six_values_are_the_fewest_that_give_95_percent() -> None:
    assert median_interval([1, 2, 3, 4, 5]).coverage == 0.0  # 1 - 2/32 = 0.9375 < 0.95
    iv = median_interval([6, 5, 4, 3, 2, 1])
    assert (iv.low, iv.high, iv.coverage) == (1, 6, pytest.approx(1 - 2 / 64))
    assert median_interval([1, 2, 3, 4, 5]).verdict(0.0) == "inconclusive"  # no interval: nothing decided


def test_interval_covers_the_true_median_about_as_often_as_it_claims() -> None:
    rng = random.Random(7)
    n, trials = 15, 2000
    hits = sum(iv.low <= 0.0 <= iv.high for iv in (median_interval([rng.gauss(0, 1) for _ in range(n)])
                                                     for _ in range(trials)))
    claimed = median_interval(list(range(n))).coverage
    assert claimed >= 0.95
    assert abs(hits / trials - claimed) < 4 * math.sqrt(claimed * (1 - claimed) / trials)


def test_verdict_is_inconclusive_when_the_interval_straddles_the_target() -> None:
    assert verdict(0.92, 1.05, 0.90) == "met"
    assert verdict(0.80, 0.89, 0.90) == "missed"
    assert verdict(0.85, 0.95, 0.90) == "inconclusive"
    assert verdict(0.2, 0.8, 1.0, higher_is_better=False) == "met"
    assert verdict(1.2, 1.4, 1.0, higher_is_better=False) == "missed"
    assert verdict(0.9, 1.1, 1.0, higher_is_better=False) == "inconclusive"


def test_paired_ratios_need_both_arms_in_every_round() -> None:
    assert paired_ratios([2.0, 9.0], [4.0, 3.0]) == [0.5, 3.0]
    with pytest.raises(ValueError, match="Fix:"):
        paired_ratios([1.0, 2.0], [1.0])
