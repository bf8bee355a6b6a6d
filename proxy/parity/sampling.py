"""When legacy is asked a second time (the noise sample): one rule for shadow copies, replays and parity runs.

The first WARMUP safe requests of each route always get a noise sample, then `rate` of them. With the rate
alone, a route with little traffic (or a short run on a busy machine) could show a field as a real difference
only because legacy was never asked twice yet; with a rate of 1.0 everywhere, every comparison costs legacy
two requests, which halves what a parity run can compare on a monolith that is the bottleneck. The
feature's `parity.noise_sample_rate` (route table) is the rate unless a run overrides it.
"""
from __future__ import annotations

import random
from collections.abc import Hashable

WARMUP = 5        # noise samples every route gets first
MAX_KEYS = 65_536  # routes remembered (keys are route templates, so this bound is never reached in practice)


class NoiseSampler:
    """Decides per request whether legacy is asked twice; keys are (feature, route template) or any route key."""

    def __init__(self, rng: random.Random | None = None, warmup: int = WARMUP):
        self.rng = rng or random.Random()
        self.warmup = warmup
        self._taken: dict[Hashable, int] = {}

    def wanted(self, key: Hashable, rate: float) -> bool:
        """True for the first `warmup` calls with `key`, then with probability `rate` (0 never samples)."""
        if rate <= 0:
            return False
        taken = self._taken.get(key)
        if taken is None and len(self._taken) < MAX_KEYS:
            taken = 0  # a new route (past MAX_KEYS, new keys get the rate alone)
        if taken is not None and taken < self.warmup:
            self._taken[key] = taken + 1
            return True
        return rate >= 1.0 or self.rng.random() < rate
