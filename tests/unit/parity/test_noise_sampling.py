"""The one noise-sample rule (proxy/parity/sampling.py): every route's first reads, then the rate."""
from __future__ import annotations

import random

from proxy.parity import sampling
from proxy.parity.sampling import WARMUP, NoiseSampler


def test_each_route_gets_its_warm_up_then_the_rate_decides() -> None:
    sampler = NoiseSampler(random.Random(7))
    first = [sampler.wanted(("catalog", "/a"), 0.1) for _ in range(WARMUP)]
    other = [sampler.wanted(("catalog", "/b"), 0.1) for _ in range(WARMUP)]
    later = [sampler.wanted(("catalog", "/a"), 0.1) for _ in range(2000)]
    assert all(first) and all(other)
    assert 100 < sum(later) < 300  # ~10 % of 2000 (seeded)


def test_rate_zero_never_samples_and_rate_one_always_does() -> None:
    sampler = NoiseSampler(random.Random(1))
    assert not any(sampler.wanted("/r", 0.0) for _ in range(WARMUP + 3))
    assert all(sampler.wanted("/s", 1.0) for _ in range(WARMUP + 50))


def test_routes_past_the_bound_get_the_rate_alone(monkeypatch) -> None:
    monkeypatch.setattr(sampling, "MAX_KEYS", 2)
    sampler = NoiseSampler(random.Random(3))
    assert sampler.wanted("/a", 0.0001) and sampler.wanted("/b", 0.0001)
    assert not any(sampler.wanted("/c", 0.0001) for _ in range(50))  # no warm-up kept for a third route
    assert sampler.wanted("/a", 0.0001)  # known routes keep theirs
