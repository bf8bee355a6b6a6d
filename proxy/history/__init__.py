"""Per-feature, per-side time series the dashboard draws: ONE small interface, two backends, resolved here.

Why: the dashboard's live window forgets everything on a reload. The façade writes a bucket every 10 s
(proxy/history/recorder.py) from the counters it already keeps; the store keeps 10-s buckets for 6 h and
1-min buckets for 7 days, both written at once (a minute row is the sum of its 10-s rows, so nothing has to
be re-read to downsample; 5- and 30-min rollups, also kept 7 days, spare the 24-hour and 7-day views reading
thousands of minutes) and pruned by age, so its size is bounded by time x series (MAX_SERIES per tick).

Several façades sharing the PostgreSQL store write ONE history: a bucket is keyed by (resolution, feature,
side, start) and every write ADDS its counts (requests, errors, latency histogram counts, comparisons, copies).
Percentiles are computed at read time from the merged histogram (the façade's own Prometheus buckets, the
same interpolation as histogram_quantile), so a p95 over three façades is the p95 of all their requests,
not a max or mean of three p95s. The canary % is a setting, not a count: the merge keeps the largest.

`open_history(location)` is THE resolver (a store as is, a PostgreSQL URL, a file path); nothing else looks
at which backend it holds. `history_location()` makes the same choice as the parity store: the shared
store's URL when one is configured, else history.db next to the parity store's file.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

INTERVAL_S = 10                       # the fine resolution: one bucket per façade every 10 s
COARSE_S = 60                         # downsampled resolution
# rollups of the minutes, also kept 7 days, so that no view reads more than ~700 rows a side: the 24-hour view
# reads 5-min rows (288, not 1,440), the 7-day view 30-min rows (336, not 10,080)
ROLLUPS_S = (300, 1800)
ROLLUP_S = ROLLUPS_S[-1]
KEEP_S = {INTERVAL_S: 6 * 3600, COARSE_S: 7 * 24 * 3600, **dict.fromkeys(ROLLUPS_S, 7 * 24 * 3600)}
SIDES = ("legacy", "target", "shadow")
MAX_SERIES = 1000                     # (feature, side) pairs written per tick; more are dropped and counted
# The façade's latency histogram bounds in seconds (proxy/metrics.py); tests check they are the same.
BOUNDS: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, math.inf)
COUNTS = ("requests", "e4xx", "e5xx", "enone", *(f"h{i}" for i in range(len(BOUNDS))), "compared", "equal",
          "copies", "copy_errors")


@dataclass(frozen=True, slots=True)
class Bucket:
    """What one side of one feature did in one interval. `hist`: cumulative latency counts per BOUNDS."""

    feature: str
    side: str
    ts: int                          # the interval's start, epoch seconds, a multiple of INTERVAL_S
    requests: int = 0
    e4xx: int = 0
    e5xx: int = 0
    enone: int = 0                   # no answer at all (connect/timeout/protocol error, client gone)
    hist: tuple[int, ...] = ()
    compared: int = 0                # shadow: comparisons with an answer on both sides
    equal: int = 0                   # ... of which equal (noise excluded)
    copies: int = 0                  # shadow copies sent
    copy_errors: int = 0             # ... that got no answer
    canary: float | None = None      # the share of traffic the table sends to the target, %

    def counts(self) -> tuple[int, ...]:
        hist = tuple(self.hist) + (0,) * (len(BOUNDS) - len(self.hist))
        return (self.requests, self.e4xx, self.e5xx, self.enone, *hist[:len(BOUNDS)], self.compared, self.equal,
                self.copies, self.copy_errors)

    def empty(self) -> bool:
        return not any(self.counts())


@dataclass(slots=True)
class Point:
    """One aggregated step of one side read back: the counts summed (in COUNTS order), the canary % the largest."""

    side: str
    ts: int
    counts: tuple[int, ...] = ()
    canary: float | None = None

    @property
    def values(self) -> dict[str, int]:
        return dict(zip(COUNTS, self.counts, strict=True))


@runtime_checkable
class HistoryStore(Protocol):
    """Where the time series live. `name` names it for messages (never a password)."""

    name: str

    def write(self, buckets: Sequence[Bucket]) -> None:
        """Add 10-s buckets (and fold them into their minute and rollups) — additive: several writers share one."""
        ...

    def write_rows(self, res: int, buckets: Sequence[Bucket]) -> None:
        """Add buckets at one resolution only (`res` seconds; their ts a multiple of it): seeding, imports."""
        ...

    def points(self, feature: str, *, res: int, since: int, until: int, step: int) -> list[Point]:
        """The feature's buckets at resolution `res` in [since, until), summed per `step` seconds, in time order."""
        ...

    def features(self) -> list[str]:
        """Features with any row."""
        ...

    def prune(self, now: float) -> int:
        """Drop rows older than their resolution keeps; how many went."""
        ...

    def close(self) -> None: ...


def history_location(explicit: str | os.PathLike[str] | None = None, *, shared: str | None = None) -> str | Path:
    """Where the history goes: the shared store's URL when the parity store is there, else history.db in the
    parity store's folder (the same choice as proxy.parity.store.parity_location)."""
    from proxy.parity.store import parity_location
    from proxy.stores import is_store_url

    where = parity_location(os.fspath(explicit) if explicit else None, shared=shared)
    if is_store_url(where):
        return str(where)
    return Path(where).with_name("history.db")


_pg: dict[str, HistoryStore] = {}


def open_history(location: HistoryStore | str | os.PathLike[str] | None = None) -> HistoryStore:
    """THE resolver: a HistoryStore as is; a PostgreSQL URL -> the shared store's tables (one object per URL in
    this process); a path -> SQLite; None -> history_location()."""
    from proxy.stores import is_store_url

    if isinstance(location, HistoryStore):
        return location
    if location is None:
        location = history_location()
    if is_store_url(location):
        url = str(location)
        if url not in _pg:
            from proxy.history.pg import PgHistory

            _pg[url] = PgHistory(url)
        return _pg[url]
    from proxy.history.sql import SqliteHistory

    return SqliteHistory(Path(location))


def rate(num: int | float, den: int | float) -> float | None:
    return num / den if den else None


__all__ = ["BOUNDS", "COARSE_S", "COUNTS", "INTERVAL_S", "KEEP_S", "MAX_SERIES", "ROLLUPS_S", "ROLLUP_S", "SIDES",
           "Bucket", "HistoryStore", "Point", "history_location", "open_history"]

