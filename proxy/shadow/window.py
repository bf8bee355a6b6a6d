"""Auto-rollback maths, pure and cheap: bounded sliding windows per feature and the one-state-back decision.

Why in memory and not from the parity store: the façade must judge a feature on every few requests without a
SQLite query on the event loop. Recording is O(1) (a deque append plus running counts); the p95 needs a sort
of at most `min_samples` latencies, done by the periodic evaluation, never per request.

Regressions, not noise: an error legacy also returned is not counted, and no limit acts until
`min_clients` distinct clients (cohort keys) are behind it, so one client cannot roll a feature back alone.
"""
from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from proxy.table import RollbackConfig, State

DEFAULT_CANARY_PERCENT = 10.0  # new -> canary when the feature has no canary_percent of its own


class Window:
    """The last `size` target-side outcomes and the last `size` comparisons with legacy, with running counts
    and the distinct clients (cohort keys) behind each kind of regression, all O(1) per event.

    An outcome is an error when the target failed (5xx, no answer) and a REGRESSION unless legacy is known to
    have failed the same request too (a comparison said so): an input both sides fail on is not the
    target's fault, so it never counts towards `max_error_rate`. A comparison whose status class differs from
    legacy's (200 → 403 included; legacy's own 5xx excluded) is a status change (`max_status_change_rate`)."""

    __slots__ = ("_changes", "_comparisons", "_diffs", "_errors", "_outcomes", "_regressions", "_seen",
                 "dirty", "size")

    def __init__(self, size: int):
        self.size = size
        self._outcomes: deque[tuple[bool, bool, float | None, str]] = deque(maxlen=size)
        self._comparisons: deque[tuple[bool, bool, str]] = deque(maxlen=size)
        self._errors = 0
        self._regressions: Counter[str] = Counter()  # client -> count in the window
        self._seen: Counter[str] = Counter()
        self._diffs: Counter[str] = Counter()
        self._changes: Counter[str] = Counter()
        self.dirty = False

    def outcome(self, error: bool, latency_ms: float | None, client: str = "", *,
                regression: bool | None = None) -> None:
        """`error`: the target failed; `regression`: it failed where legacy did not (None: legacy's answer is
        unknown, so the error counts)."""
        counted = error if regression is None else (error and regression)
        if len(self._outcomes) == self.size:
            old_error, old_counted, _, old_client = self._outcomes[0]
            self._errors -= old_error
            _drop(self._seen, old_client)
            if old_counted:
                _drop(self._regressions, old_client)
        self._outcomes.append((error, counted, latency_ms, client))
        self._errors += error
        self._seen[client] += 1
        if counted:
            self._regressions[client] += 1
        self.dirty = True

    def parity(self, differs: bool, client: str = "", *, status_change: bool = False) -> None:
        if len(self._comparisons) == self.size:
            old_differs, old_change, old_client = self._comparisons[0]
            if old_differs:
                _drop(self._diffs, old_client)
            if old_change:
                _drop(self._changes, old_client)
        self._comparisons.append((differs, status_change, client))
        if differs:
            self._diffs[client] += 1
        if status_change:
            self._changes[client] += 1
        self.dirty = True

    @property
    def outcomes(self) -> int:
        return len(self._outcomes)

    @property
    def errors(self) -> int:
        """Target failures seen, regressions or not."""
        return self._errors

    @property
    def regressions(self) -> int:
        """Target failures that count: legacy did not fail the same request (or its answer is unknown)."""
        return self._regressions.total()

    @property
    def comparisons(self) -> int:
        return len(self._comparisons)

    @property
    def differences(self) -> int:
        return self._diffs.total()

    @property
    def status_changes(self) -> int:
        return self._changes.total()

    def error_rate(self) -> float:
        """Regressions over outcomes: the rate `max_error_rate` limits."""
        return self.regressions / len(self._outcomes) if self._outcomes else 0.0

    def diff_rate(self) -> float:
        return self.differences / len(self._comparisons) if self._comparisons else 0.0

    def status_change_rate(self) -> float:
        return self.status_changes / len(self._comparisons) if self._comparisons else 0.0

    def clients(self, limit: str) -> int:
        """Distinct clients behind what `limit` measures (every client in the window for latency)."""
        return len({"max_error_rate": self._regressions, "max_p95_ms": self._seen, "max_diff_rate": self._diffs,
                    "max_status_change_rate": self._changes}[limit])

    def p95_ms(self) -> float | None:
        """Nearest-rank p95 of the latencies in the window (errors without a latency are left out)."""
        values = sorted(lat for _, _, lat, _ in self._outcomes if lat is not None)
        if not values:
            return None
        return values[max(0, math.ceil(0.95 * len(values)) - 1)]


def _drop(counter: Counter, key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]


def is_status_change(cause: str, legacy_status: int | None) -> bool:
    """A comparison whose status class differs from legacy's, unless legacy itself failed (5xx)."""
    return cause in ("status_class", "identity_rejected") and legacy_status is not None and legacy_status < 500


@dataclass(frozen=True, slots=True)
class Breach:
    limit: str      # max_error_rate | max_p95_ms | max_status_change_rate | max_diff_rate
    value: float
    threshold: float
    samples: int
    clients: int = 0

    def reason(self) -> str:
        shown = (f"{self.value:.1%} > {self.threshold:.1%}" if self.limit != "max_p95_ms"
                 else f"{self.value:.1f} ms > {self.threshold:g} ms")
        return (f"auto-rollback: {self.limit} crossed ({shown} over the last {self.samples} samples, "
                f"from {self.clients} client{'s' if self.clients != 1 else ''})")


def evaluate(config: RollbackConfig, window: Window) -> tuple[Breach | None, dict]:
    """The first limit crossed (errors, latency, status changes, then parity), each judged only over a full
    window of at least `min_samples` and only when at least `min_clients` distinct clients are behind it; plus
    the evidence figures (always returned, for metrics and the ledger; `held` lists limits crossed by too
    few clients)."""
    n = config.min_samples
    p95 = window.p95_ms() if window.outcomes >= n else None
    held: list[str] = []
    evidence: dict[str, Any] = {"samples": window.outcomes, "outcomes": window.outcomes, "errors": window.errors,
                "regressions": window.regressions, "error_rate": round(window.error_rate(), 4),
                "p95_ms": None if p95 is None else round(p95, 2), "comparisons": window.comparisons,
                "differences": window.differences, "diff_rate": round(window.diff_rate(), 4),
                "status_changes": window.status_changes,
                "status_change_rate": round(window.status_change_rate(), 4), "min_samples": n,
                "min_clients": config.min_clients, "limits": config.model_dump(), "held": held}
    crossed = []
    if window.outcomes >= n:
        if config.max_error_rate is not None and window.error_rate() > config.max_error_rate:
            crossed.append(("max_error_rate", window.error_rate(), config.max_error_rate, window.outcomes))
        if config.max_p95_ms is not None and p95 is not None and p95 > config.max_p95_ms:
            crossed.append(("max_p95_ms", p95, config.max_p95_ms, window.outcomes))
    if window.comparisons >= n:
        for limit, rate in (("max_status_change_rate", window.status_change_rate()),
                            ("max_diff_rate", window.diff_rate())):
            threshold = getattr(config, limit)
            if threshold is not None and rate > threshold:
                crossed.append((limit, rate, threshold, window.comparisons))
    for limit, value, threshold, samples in crossed:
        clients = window.clients(limit)
        if clients >= config.min_clients:
            return Breach(limit, value, threshold, samples, clients), {**evidence, "clients": clients}
        held.append(f"{limit} crossed by {clients} client{'s' if clients != 1 else ''} "
                    f"(< rollback.min_clients {config.min_clients})")
    return None, evidence


def has_limits(config: RollbackConfig) -> bool:
    return any(v is not None for v in (config.max_diff_rate, config.max_error_rate, config.max_p95_ms,
                                       config.max_status_change_rate))


def step_back(state: State, canary_percent: float) -> tuple[State, float | None] | None:
    """One state back towards legacy: new -> canary (its own percent, else 10 %), canary -> shadow.
    Other states are never rolled back automatically (retired has no legacy side to fall back to)."""
    if state is State.NEW:
        return State.CANARY, canary_percent if canary_percent > 0 else DEFAULT_CANARY_PERCENT
    if state is State.CANARY:
        return State.SHADOW, None
    return None
