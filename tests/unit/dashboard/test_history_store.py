"""The history store on both backends (SQLite file, PostgreSQL schema): additive buckets (several façades write
one history), the 1-minute downsample, percentiles from the merged histogram, pruning by age, the resolver."""
from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.dashboard.window import quantile, read_metrics
from proxy.history import (
    BOUNDS,
    COARSE_S,
    INTERVAL_S,
    KEEP_S,
    ROLLUP_S,
    Bucket,
    HistoryStore,
    history_location,
    open_history,
)
from proxy.metrics import FacadeMetrics

PG_ENV = "STRANGLER_TEST_PG_URL"
T0 = 1_800_000_000 - 1_800_000_000 % 3600  # an hour boundary


def pg_url() -> str:
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql+psycopg://root@127.0.0.1:5432/test)")
    return f"{base}{'&' if '?' in base else '?'}schema=t_history_{uuid.uuid4().hex[:10]}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def location(request, tmp_path: Path) -> Iterator[str | Path]:
    if request.param == "sqlite":
        yield tmp_path / "history.db"
        return
    from proxy.shared_store import store_for

    url = pg_url()
    yield url
    store_for(url).drop()
    import psycopg

    with psycopg.connect(store_for(url).conninfo, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{store_for(url).schema}" CASCADE')


def hist(*latencies_s: float) -> tuple[int, ...]:
    """Cumulative counts per BOUNDS for these latencies (what the façade's histogram would hold)."""
    return tuple(sum(1 for x in latencies_s if x <= b) for b in BOUNDS)


def bucket(ts: int, requests: int, *, feature: str = "orders", side: str = "target", lat: float = 0.02,
           e5xx: int = 0, canary: float | None = 10.0, **kw: int) -> Bucket:
    return Bucket(feature, side, ts, requests=requests, e5xx=e5xx, hist=hist(*[lat] * requests), canary=canary, **kw)


def test_two_writers_add_into_one_bucket_and_p95_comes_from_the_merged_histogram(location) -> None:
    one, two = open_history(location), open_history(location)
    one.write([bucket(T0, 90, lat=0.004)])                    # façade 1: 90 fast requests
    two.write([bucket(T0, 10, lat=0.4, e5xx=3, canary=20.0)])  # façade 2: 10 slow ones, a later canary %
    [p] = one.points("orders", res=INTERVAL_S, since=T0, until=T0 + 10, step=10)
    assert (p.side, p.ts, p.values["requests"], p.values["e5xx"], p.canary) == ("target", T0, 100, 3, 20.0)
    merged = tuple(float(p.values[f"h{i}"]) for i in range(len(BOUNDS)))
    assert merged == tuple(float(a + b) for a, b in zip(hist(*[0.004] * 90), hist(*[0.4] * 10), strict=True))
    p95 = quantile(0.95, BOUNDS, merged)
    assert p95 is not None and 0.25 < p95 <= 0.5  # the slow façade's requests are 10 % of all: p95 is slow
    p50 = quantile(0.5, BOUNDS, merged)
    assert p50 is not None and p50 <= 0.005


def test_the_minute_row_is_the_sum_of_its_ten_second_rows(location) -> None:
    store = open_history(location)
    store.write([bucket(T0 + i * INTERVAL_S, i + 1, canary=float(5 * i)) for i in range(6)])  # one minute
    store.write([bucket(T0 + 60, 7, side="legacy")])
    fine = store.points("orders", res=INTERVAL_S, since=T0, until=T0 + 120, step=INTERVAL_S)
    assert [(p.ts, p.side, p.values["requests"]) for p in fine] == sorted(
        [(T0 + 60, "legacy", 7)] + [(T0 + i * INTERVAL_S, "target", i + 1) for i in range(6)])
    coarse = store.points("orders", res=COARSE_S, since=T0, until=T0 + 120, step=COARSE_S)
    assert [(p.side, p.ts, p.values["requests"], p.canary) for p in coarse] == [
        ("target", T0, 21, 25.0), ("legacy", T0 + 60, 7, 10.0)]
    # a read step wider than the resolution sums steps in the query; the 30-min rollup holds the same sums
    wide = store.points("orders", res=COARSE_S, since=T0, until=T0 + 3600, step=ROLLUP_S)
    assert [(p.side, p.ts, p.values["requests"]) for p in wide] == [("legacy", T0, 7), ("target", T0, 21)]
    five = store.points("orders", res=300, since=T0, until=T0 + 3600, step=300)
    assert [(p.side, p.ts, p.values) for p in five] == [(p.side, p.ts, p.values) for p in wide]
    rollup = store.points("orders", res=ROLLUP_S, since=T0, until=T0 + 3600, step=ROLLUP_S)
    assert [(p.side, p.ts, p.values, p.canary) for p in rollup] == [(p.side, p.ts, p.values, p.canary) for p in wide]
    assert store.features() == ["orders"]


def test_prune_keeps_six_hours_of_ten_second_rows_and_seven_days_of_minutes(location) -> None:
    store = open_history(location)
    now = T0 + 10 * 86400
    old_fine, kept_fine = now - KEEP_S[INTERVAL_S] - 60, now - KEEP_S[INTERVAL_S] + 60
    store.write([bucket(old_fine, 1), bucket(kept_fine, 2)])
    store.write_rows(COARSE_S, [bucket(now - KEEP_S[COARSE_S] - 120, 4), bucket(now - 3 * 86400, 8)])
    before = store.count()  # type: ignore[attr-defined]
    assert store.prune(now) == 2  # the 10-s row older than 6 h, the minute older than 7 days
    assert store.count() == before - 2  # type: ignore[attr-defined]
    fine = store.points("orders", res=INTERVAL_S, since=now - 86400, until=now, step=INTERVAL_S)
    assert [p.values["requests"] for p in fine] == [2]
    coarse = store.points("orders", res=COARSE_S, since=now - 30 * 86400, until=now, step=COARSE_S)
    assert sorted(p.values["requests"] for p in coarse) == [1, 2, 8]  # the minute of old_fine is younger than 7 d


def test_rows_are_bounded_by_time_and_series(location) -> None:
    """A day of ticks for 3 series never holds more than the bound: rows per resolution x kept span."""
    store = open_history(location)
    start = T0
    for n in range(0, 86400, 600):  # a tick every 10 min keeps the test quick; the bound is per kept span
        store.write([bucket(start + n, 1, feature=f"f{i}") for i in range(3)])
        store.prune(start + n)
    fine_rows = 3 * (KEEP_S[INTERVAL_S] // 600 + 1)
    coarse_rows = 3 * (86400 // 600)
    rollup_rows = 3 * (86400 // 300 + 86400 // ROLLUP_S)
    assert store.count() <= fine_rows + coarse_rows + rollup_rows  # type: ignore[attr-defined]


def test_resolver_picks_the_backend_from_the_location(tmp_path: Path, monkeypatch) -> None:
    sqlite = open_history(tmp_path / "h.db")
    assert isinstance(sqlite, HistoryStore) and open_history(sqlite) is sqlite
    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    monkeypatch.delenv("STRANGLER_PARITY_STORE", raising=False)
    assert history_location() == Path(os.environ["STRANGLER_VAR_DIR"]) / "history.db"  # next to parity.db
    monkeypatch.setenv("STRANGLER_PARITY_STORE", str(tmp_path / "p" / "parity.db"))
    assert history_location() == tmp_path / "p" / "history.db"
    url = "postgresql+psycopg://u@127.0.0.1:5432/db?schema=s"
    assert history_location(shared=url) == tmp_path / "p" / "history.db"  # an explicit parity file wins
    monkeypatch.delenv("STRANGLER_PARITY_STORE")
    assert history_location(shared=url) == url


@pytest.mark.postgres
def test_postgres_backend_is_the_shared_store_table() -> None:
    url = pg_url()
    from proxy.history.pg import PgHistory
    from proxy.shared_store import store_for

    try:
        store = open_history(url)
        assert isinstance(store, PgHistory) and open_history(url) is store and "@" not in store.name.split("//")[0]
        store.write([bucket(T0, 1)])
        assert store.features() == ["orders"]
    finally:
        import psycopg

        with psycopg.connect(store_for(url).conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{store_for(url).schema}" CASCADE')


def test_bounds_are_the_facade_histogram_bounds() -> None:
    metrics = FacadeMetrics()
    metrics.observe("orders", "svc", "new", 200, 0.003)
    bounds, _ = read_metrics(metrics)
    assert bounds == BOUNDS and math.isinf(BOUNDS[-1])
