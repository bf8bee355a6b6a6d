"""Auto-rollback maths, pure and cheap: bounded sliding windows per feature and the one-state-back decision.

Why in memory and not from the parity store: the façade must judge a feature on every few requests without a
SQLite query on the event loop. Recording is O(1) (a deque append plus running counts); the p95 needs a sort
of at most `min_samples` latencies, done by the periodic evaluation, never per request.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from proxy.table import RollbackConfig, State

DEFAULT_CANARY_PERCENT = 10.0  # new -> canary when the feature has no canary_percent of its own


class Window:
    """The last `size` target-side outcomes (error flag, latency) and the last `size` parity verdicts."""

    __slots__ = ("_diff_count", "_diffs", "_errors", "_outcomes", "dirty", "size")

    def __init__(self, size: int):
        self.size = size
        self._outcomes: deque[tuple[bool, float | None]] = deque(maxlen=size)
        self._errors = 0
        self._diffs: deque[bool] = deque(maxlen=size)
        self._diff_count = 0
        self.dirty = False

    def outcome(self, error: bool, latency_ms: float | None) -> None:
        if len(self._outcomes) == self.size and self._outcomes[0][0]:
            self._errors -= 1
        self._outcomes.append((error, latency_ms))
        self._errors += error
        self.dirty = True

    def parity(self, differs: bool) -> None:
        if len(self._diffs) == self.size and self._diffs[0]:
            self._diff_count -= 1
        self._diffs.append(differs)
        self._diff_count += differs
        self.dirty = True

    @property
    def outcomes(self) -> int:
        return len(self._outcomes)

    @property
    def errors(self) -> int:
        return self._errors

    @property
    def comparisons(self) -> int:
        return len(self._diffs)

    @property
    def differences(self) -> int:
        return self._diff_count

    def error_rate(self) -> float:
        return self._errors / len(self._outcomes) if self._outcomes else 0.0

    def diff_rate(self) -> float:
        return self._diff_count / len(self._diffs) if self._diffs else 0.0

    def p95_ms(self) -> float | None:
        """Nearest-rank p95 of the latencies in the window (errors without a latency are left out)."""
        values = sorted(lat for _, lat in self._outcomes if lat is not None)
        if not values:
            return None
        return values[max(0, math.ceil(0.95 * len(values)) - 1)]


@dataclass(frozen=True, slots=True)
class Breach:
    limit: str      # max_error_rate | max_p95_ms | max_diff_rate
    value: float
    threshold: float
    samples: int

    def reason(self) -> str:
        shown = (f"{self.value:.1%} > {self.threshold:.1%}" if self.limit != "max_p95_ms"
                 else f"{self.value:.1f} ms > {self.threshold:g} ms")
        return f"auto-rollback: {self.limit} crossed ({shown} over the last {self.samples} samples)"


def evaluate(config: RollbackConfig, window: Window) -> tuple[Breach | None, dict]:
    """The first limit crossed (errors, then latency, then parity), each judged only over a full window of
    at least `min_samples`; plus the evidence figures (always returned, for metrics and the ledger)."""
    n = config.min_samples
    p95 = window.p95_ms() if window.outcomes >= n else None
    evidence = {"outcomes": window.outcomes, "errors": window.errors, "error_rate": round(window.error_rate(), 4),
                "p95_ms": None if p95 is None else round(p95, 2), "comparisons": window.comparisons,
                "differences": window.differences, "diff_rate": round(window.diff_rate(), 4), "min_samples": n,
                "limits": config.model_dump()}
    if window.outcomes >= n:
        if config.max_error_rate is not None and window.error_rate() > config.max_error_rate:
            return Breach("max_error_rate", window.error_rate(), config.max_error_rate, window.outcomes), evidence
        if config.max_p95_ms is not None and p95 is not None and p95 > config.max_p95_ms:
            return Breach("max_p95_ms", p95, config.max_p95_ms, window.outcomes), evidence
    if window.comparisons >= n and config.max_diff_rate is not None and window.diff_rate() > config.max_diff_rate:
        return Breach("max_diff_rate", window.diff_rate(), config.max_diff_rate, window.comparisons), evidence
    return None, evidence


def has_limits(config: RollbackConfig) -> bool:
    return any(v is not None for v in (config.max_diff_rate, config.max_error_rate, config.max_p95_ms))


def step_back(state: State, canary_percent: float) -> tuple[State, float | None] | None:
    """One state back towards legacy: new -> canary (its own percent, else 10 %), canary -> shadow.
    Other states are never rolled back automatically (retired has no legacy side to fall back to)."""
    if state is State.NEW:
        return State.CANARY, canary_percent if canary_percent > 0 else DEFAULT_CANARY_PERCENT
    if state is State.CANARY:
        return State.SHADOW, None
    return None
