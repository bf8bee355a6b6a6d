"""acl/catalog/availability: one batched legacy call per answer, and a cache whose values are never older than
its TTL. The legacy HTTP peer is scripted (httpx.MockTransport); the clock is injected, never the wall clock."""
from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from acl.catalog.availability import MAX_BATCH, PATH, AvailabilityCache, LegacyInventoryAvailability
from new_services.catalog.ports import AvailabilityUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Inventory:
    """The monolith's batch endpoint as a peer: stock per id (missing → 0), every call recorded."""

    def __init__(self, stock: dict[int, int] | None = None, *, on_call: Callable[[], None] = lambda: None) -> None:
        self.stock = dict(stock or {})
        self.calls: list[list[int]] = []
        self.on_call = on_call
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == PATH
        ids = [int(x) for x in request.url.params["ids"].split(",")]
        assert len(ids) <= MAX_BATCH
        self.calls.append(ids)
        self.on_call()
        if self.down:
            return httpx.Response(503)
        return httpx.Response(200, json={"Availability": [{"ProductId": i, "TotalAvailable": self.stock.get(i, 0),
                                                           "Extra": 1} for i in ids]})


def source(peer: Inventory, clock: Clock, **kwargs: object) -> LegacyInventoryAvailability:
    return LegacyInventoryAvailability("http://127.0.0.1:5000", transport=httpx.MockTransport(peer), clock=clock,
                                       backoff_s=0, background=False, **kwargs)


def test_a_page_is_one_call_and_duplicates_are_asked_once() -> None:
    peer = Inventory({i: i * 10 for i in range(1, 51)})
    with source(peer, Clock()) as avail:
        assert avail.available([*range(1, 51), 3, 3]) == {i: i * 10 for i in range(1, 51)}
    assert peer.calls == [list(range(1, 51))]


def test_more_ids_than_a_batch_are_split_into_bounded_calls() -> None:
    peer = Inventory()
    with source(peer, Clock(), ttl_s=0) as avail:
        assert avail.available(range(1, 2 * MAX_BATCH + 2)) == dict.fromkeys(range(1, 2 * MAX_BATCH + 2), 0)
    assert [len(c) for c in peer.calls] == [MAX_BATCH, MAX_BATCH, 1]


def test_cached_values_are_served_within_the_ttl_only() -> None:
    clock, peer = Clock(), Inventory({1: 5, 2: 6})
    with source(peer, clock, ttl_s=2.0) as avail:
        assert avail.available([1]) == {1: 5}
        peer.stock[1] = 4
        clock.now += 1.999
        assert avail.available([1, 2]) == {1: 5, 2: 6}  # 1 from the cache (stale, within the TTL); 2 asked
        assert peer.calls == [[1], [2]]
        clock.now += 0.001  # 1 is now exactly ttl_s old: asked again
        assert avail.available([1, 2]) == {1: 4, 2: 6}
        assert peer.calls == [[1], [2], [1]]


def test_age_counts_from_when_the_call_was_sent() -> None:
    """A slow answer is already old when it arrives: it expires ttl_s after the call left, not after it came back."""
    clock = Clock()
    peer = Inventory({1: 5}, on_call=lambda: setattr(clock, "now", clock.now + 1.5))
    with source(peer, clock, ttl_s=2.0) as avail:
        sent = clock.now
        avail.available([1])
        clock.now = sent + 2.0  # received 0.5 s ago, sent 2 s ago
        avail.available([1])
        assert len(peer.calls) == 2


def test_a_stale_read_is_never_older_than_the_ttl() -> None:
    """Stock changes at every step; each answer must equal the stock of some moment within the last ttl_s."""
    clock, ttl = Clock(), 2.0
    peer = Inventory({1: 0})
    history: list[tuple[float, int]] = []  # (since, value) as the monolith had it; values only grow

    def value_at(moment: float) -> int:
        return max((value for since, value in history if since <= moment), default=0)

    with source(peer, clock, ttl_s=ttl) as avail:
        for step in range(200):
            peer.stock[1] = step
            history.append((clock.now, step))
            served = avail.available([1])[1]
            assert value_at(clock.now - ttl) <= served <= step, (step, served)
            clock.now += 0.25
    assert 1 < len(peer.calls) < 200  # the cache did serve some, and did expire


def test_fresh_reads_bypass_the_cache_and_refresh_it() -> None:
    clock, peer = Clock(), Inventory({1: 5})
    with source(peer, clock) as avail:
        avail.available([1])
        peer.stock[1] = 2
        assert avail.available([1], fresh=True) == {1: 2}
        assert avail.available([1]) == {1: 2}
    assert peer.calls == [[1], [1]]


def test_expired_values_are_not_served_when_legacy_is_down() -> None:
    clock, peer = Clock(), Inventory({1: 5})
    with source(peer, clock, ttl_s=2.0, retries=0) as avail:
        avail.available([1])
        peer.down = True
        assert avail.available([1]) == {1: 5}  # still within the TTL: no call
        clock.now += 2.0
        with pytest.raises(AvailabilityUnavailable, match="503"):
            avail.available([1])


@pytest.mark.parametrize("answer", [
    {"Availability": [{"ProductId": 1, "TotalAvailable": 3}]},      # id 2 not answered
    {"Availability": [{"ProductId": 1}, {"ProductId": 2, "TotalAvailable": 1}]},
    {"Availability": [{"ProductId": "1", "TotalAvailable": 1}, {"ProductId": 2, "TotalAvailable": 1}]},
    {"Availability": {"1": 3}},
    {"Products": []},
])
def test_a_malformed_answer_is_reported_not_guessed_nor_cached(answer: dict) -> None:
    calls: list[httpx.Request] = []

    def peer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=answer)

    with LegacyInventoryAvailability("http://127.0.0.1:5000", transport=httpx.MockTransport(peer),
                                     background=False) as avail:
        for _ in range(2):
            with pytest.raises(AvailabilityUnavailable):
                avail.available([1, 2])
        assert len(avail.cache) == 0
    assert len(calls) == 2


def test_negative_totals_read_as_zero() -> None:
    with source(Inventory({1: -3}), Clock()) as avail:
        assert avail.available([1]) == {1: 0}


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    clock = Clock()
    cache = AvailabilityCache(ttl_s=5.0, max_entries=3, clock=clock)
    cache.put_many({1: 1, 2: 2, 3: 3}, clock.now)
    assert cache.get_many([1]) == {1: 1}  # 1 is now the most recently used
    cache.put_many({4: 4, 5: 5}, clock.now)
    assert len(cache) == 3
    assert cache.get_many([1, 2, 3, 4, 5]) == {1: 1, 4: 4, 5: 5}


def test_an_older_read_never_replaces_a_newer_one() -> None:
    cache = AvailabilityCache(ttl_s=5.0, max_entries=10, clock=Clock())
    cache.put_many({1: 9}, fetched_at=1000.0)
    cache.put_many({1: 4}, fetched_at=999.0)  # a call sent earlier that answered later
    assert cache.get_many([1]) == {1: 9}


def test_ttl_zero_turns_caching_off() -> None:
    peer = Inventory({1: 5})
    with source(peer, Clock(), ttl_s=0) as avail:
        avail.available([1])
        avail.available([1])
        assert len(avail.cache) == 0
    assert len(peer.calls) == 2


@pytest.mark.parametrize(("ttl", "size"), [(-1, 10), (1, 0)])
def test_bad_cache_settings_are_refused(ttl: float, size: int) -> None:
    with pytest.raises(ValueError, match="Fix:"):
        AvailabilityCache(ttl, size)


def test_refresh_ahead_re_reads_recently_read_entries_before_they_expire() -> None:
    clock, peer = Clock(), Inventory({1: 5, 2: 6, 3: 7})
    with source(peer, clock, ttl_s=2.0, keep_warm_s=10.0) as avail:
        avail.available([1, 2])
        clock.now += 0.5
        assert avail.refresh_once() == 0  # younger than half the TTL: nothing due
        avail.available([3])
        clock.now += 0.5
        peer.stock[1] = 1
        assert avail.refresh_once() == 2  # 1 and 2 are a TTL/2 old, 3 is not
        assert sorted(peer.calls[-1]) == [1, 2]
        clock.now += 1.9  # 1 was fetched 2.4 s ago, but refreshed 1.9 s ago: still served, now the new value
        calls = len(peer.calls)
        assert avail.available([1]) == {1: 1}
        assert len(peer.calls) == calls


def test_refresh_ahead_lets_unread_entries_go_and_is_bounded() -> None:
    clock, peer = Clock(), Inventory()
    with source(peer, clock, ttl_s=2.0, keep_warm_s=5.0, warm_max=3) as avail:
        avail.available(range(1, 11))
        clock.now += 1.0
        assert avail.refresh_once() == 3  # at most warm_max per sweep
        assert len(peer.calls[-1]) == 3
        clock.now += 5.1  # nothing read for longer than keep_warm_s
        assert avail.refresh_once() == 0


def test_a_failed_refresh_never_extends_a_value_past_its_ttl() -> None:
    clock, peer = Clock(), Inventory({1: 5})
    with source(peer, clock, ttl_s=2.0, retries=0) as avail:
        avail.available([1])
        clock.now += 1.0
        peer.down = True
        with pytest.raises(AvailabilityUnavailable):
            avail.refresh_once()
        clock.now += 1.0
        with pytest.raises(AvailabilityUnavailable):
            avail.available([1])


def test_the_background_refresher_runs_and_stops_on_close() -> None:
    peer = Inventory({1: 5})
    avail = LegacyInventoryAvailability("http://127.0.0.1:5000", transport=httpx.MockTransport(peer), ttl_s=0.02,
                                        keep_warm_s=60)
    avail.available([1])
    for _ in range(3000):  # bounded: at most ~30 s
        if len(peer.calls) > 1:
            break
        avail._stop.wait(0.01)
    avail.close()
    assert len(peer.calls) > 1, "no refresh-ahead call was made"
    assert avail._refresher is not None and not avail._refresher.is_alive()


def test_a_sweep_refreshes_the_oldest_values_first() -> None:
    clock = Clock()
    cache = AvailabilityCache(ttl_s=2.0, max_entries=10, clock=clock)
    cache.put_many({3: 0}, clock.now)
    clock.now += 0.5
    cache.put_many({1: 0}, clock.now)
    clock.now += 0.5
    cache.put_many({2: 0}, clock.now)
    clock.now += 1.0
    assert cache.due(keep_warm_s=10.0, limit=10) == [3, 1, 2]
    assert cache.due(keep_warm_s=10.0, limit=2) == [1, 2]  # only the 2 most recently read are kept warm
