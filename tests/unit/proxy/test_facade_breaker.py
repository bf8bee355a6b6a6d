"""Circuit breaker transitions with a fake clock."""
from __future__ import annotations

from proxy.breaker import Breaker, BreakerState
from proxy.table import BreakerConfig


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def make(threshold=3, open_seconds=5.0):
    clock = Clock()
    return Breaker(BreakerConfig(failure_threshold=threshold, open_seconds=open_seconds), clock), clock


def test_opens_after_consecutive_failures_only():
    b, _ = make()
    b.record_failure(), b.record_failure(), b.record_status(200), b.record_failure(), b.record_failure()
    assert b.state is BreakerState.CLOSED and b.allow()
    b.record_status(503)
    assert b.state is BreakerState.OPEN and not b.allow() and b.is_open()


def test_500_is_not_a_breaker_failure_but_502_503_504_are():
    b, _ = make(threshold=1)
    b.record_status(500)
    assert b.state is BreakerState.CLOSED
    for status in (502, 503, 504):
        b, _ = make(threshold=1)
        b.record_status(status)
        assert b.state is BreakerState.OPEN


def test_one_half_open_probe_then_close_on_success():
    b, clock = make(threshold=1)
    b.record_failure()
    clock.now += 4.9
    assert not b.allow()
    clock.now += 0.2
    assert b.allow() and b.state is BreakerState.HALF_OPEN
    assert not b.allow()  # only one probe at a time
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allow()


def test_failed_probe_reopens_for_another_period():
    b, clock = make(threshold=1)
    b.record_failure()
    clock.now += 5
    assert b.allow()
    b.record_failure()
    assert b.state is BreakerState.OPEN and not b.allow()
    clock.now += 5
    assert b.allow()


def test_lost_probe_does_not_wedge_the_breaker():
    b, clock = make(threshold=1)
    b.record_failure()
    clock.now += 5
    assert b.allow() and not b.allow()
    clock.now += 5  # the probe never reported back
    assert b.allow()


def test_late_failure_does_not_extend_the_open_window():
    b, clock = make(threshold=1)
    b.record_failure()
    clock.now += 4
    b.record_failure()
    clock.now += 1
    assert b.allow()
