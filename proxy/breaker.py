"""Circuit breaker per upstream: stop sending traffic to an upstream that keeps failing, probe it later.

Counted as failures: connection errors, timeouts and 502/503/504 answers (the upstream or its own gateway is
unavailable). Other statuses, 500 included, are successes for the breaker: a 500 is an application answer
that parity and rollback judge, not a sign the upstream is unreachable. `failure_threshold` consecutive
failures open the breaker; after `open_seconds` ONE request is let through as a half-open probe; its success
closes the breaker, its failure re-opens it for another `open_seconds`.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from enum import IntEnum

from proxy.table import BreakerConfig

FAILURE_STATUSES = frozenset({502, 503, 504})


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class Breaker:
    __slots__ = ("_clock", "config", "failures", "opened_at", "opens", "probe_started", "state")

    def __init__(self, config: BreakerConfig, clock: Callable[[], float] = time.monotonic):
        self.config = config
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.failures = 0
        self.opened_at = 0.0
        self.probe_started = 0.0
        self.opens = 0  # how many times it opened (for metrics/tests)

    def allow(self) -> bool:
        """May a request go to this upstream now? In half-open, only the one probe may."""
        if self.state is BreakerState.CLOSED:
            return True
        now = self._clock()
        if self.state is BreakerState.OPEN:
            if now - self.opened_at < self.config.open_seconds:
                return False
            self.state = BreakerState.HALF_OPEN
            self.probe_started = now
            return True
        # half-open: a probe is in flight; if it never reported back, allow a new one after open_seconds
        if now - self.probe_started >= self.config.open_seconds:
            self.probe_started = now
            return True
        return False

    def is_open(self) -> bool:
        """True while requests would be refused (open and not yet due for a probe), without side effects."""
        if self.state is BreakerState.CLOSED:
            return False
        now = self._clock()
        if self.state is BreakerState.OPEN:
            return now - self.opened_at < self.config.open_seconds
        return now - self.probe_started < self.config.open_seconds

    def record_success(self) -> None:
        self.failures = 0
        self.state = BreakerState.CLOSED

    def record_failure(self) -> None:
        self.failures += 1
        if self.state is BreakerState.OPEN:
            return  # a late answer from before it opened; do not extend the open window
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.config.failure_threshold:
            self.opens += 1
            self.state = BreakerState.OPEN
            self.opened_at = self._clock()

    def record_status(self, status: int) -> None:
        if status in FAILURE_STATUSES:
            self.record_failure()
        else:
            self.record_success()
