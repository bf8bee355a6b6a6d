"""Stock availability for catalog answers, read from the legacy inventory API (inventory stays in the
monolith). Why over HTTP and not SQL: the catalog service has its own database and must not reach into the
monolith's tables; the inventory API is the monolith's published contract.

Legacy semantics reproduced: Available = sum over warehouses of (on hand − reserved); a product without
stock rows has 0 available.

Cost: one call per answer, whatever the page size — GET /api/inventory/availability?ids=1,2,3 (a batch
endpoint added to the monolith for this; at most MAX_BATCH ids per call, larger sets are split).

Staleness (the rule the ACL docs state): the legacy-compatible READS — GET /api/products and
GET /api/products/{id} — may answer with availability up to `ttl_s` old (default 5 s, CATALOG_AVAILABILITY_TTL_S;
0 turns the cache off). Age counts from when the call that fetched it was sent, so no value served is older
than the TTL. Answers to writes (PUT, deactivate) ask `fresh=True`: always read now. The cache holds at most
`max_entries` products (least recently used evicted), per service worker process.

Refresh-ahead: products read in the last `keep_warm_s` are re-read in the background (batched, at most
`warm_max` of the most recently read) once half their TTL has passed, so a hot working set is answered from
the cache without a legacy call on the request path. A failed refresh is logged once and changes nothing: the
entries expire as usual and the next read asks legacy itself (503 if it still cannot answer).
"""
from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from acl.common.conventions import require_int
from acl.common.errors import TranslationError
from acl.common.legacy_client import (
    LegacyClient,
    LegacyRejected,
    LegacyUnavailable,
    field,
)
from new_services.catalog.ports import AvailabilityUnavailable

PATH = "/api/inventory/availability"
MAX_BATCH = 200  # the monolith's MAX_AVAILABILITY_IDS (one list page at the largest page size)
DEFAULT_TTL_S = 5.0
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_KEEP_WARM_S = 30.0
DEFAULT_WARM_MAX = 2_000  # at most 10 batched calls per refresh sweep
log = logging.getLogger("acl.catalog.availability")


class AvailabilityCache:
    """Product id → units, each entry valid for `ttl_s` from `fetched_at`; at most `max_entries` (LRU).

    Thread-safe: sync FastAPI handlers run on a thread pool. `clock` is injectable for tests."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s < 0 or max_entries < 1:
            raise ValueError(f"ttl_s must be >= 0 and max_entries >= 1 (got {ttl_s}, {max_entries}). "
                             "Fix: pass a TTL in seconds (0 = no caching) and a positive size")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[int, list[float]] = OrderedDict()  # id -> [units, fetched_at, last_read]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, ids: Iterable[int]) -> dict[int, int]:
        """The ids still fresh (younger than ttl_s); expired entries are dropped."""
        if not self.ttl_s:
            return {}
        now, found = self.clock(), {}
        with self._lock:
            for pid in ids:
                entry = self._entries.get(pid)
                if entry is None:
                    continue
                if now - entry[1] < self.ttl_s:
                    found[pid] = int(entry[0])
                    entry[2] = now
                    self._entries.move_to_end(pid)
                else:
                    del self._entries[pid]
        return found

    def put_many(self, values: Mapping[int, int], fetched_at: float, *, read: bool = True) -> None:
        """Store values read by a call sent at `fetched_at` (an older read never replaces a newer one).
        `read=False` (a background refresh) keeps each entry's last read time and LRU place."""
        if not self.ttl_s:
            return
        with self._lock:
            for pid, units in values.items():
                current = self._entries.get(pid)
                if current is None:
                    self._entries[pid] = [units, fetched_at, fetched_at]
                elif current[1] <= fetched_at:
                    current[0], current[1] = units, fetched_at
                    if read:
                        current[2] = fetched_at
                if read:
                    self._entries.move_to_end(pid)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def due(self, keep_warm_s: float, limit: int) -> list[int]:
        """Of the `limit` most recently read ids (read within `keep_warm_s`), those at least half a TTL old,
        oldest value first (so a slow sweep refreshes the nearest expiry first)."""
        now, found = self.clock(), []
        with self._lock:
            for seen, pid in enumerate(reversed(self._entries)):  # most recently used first
                _units, fetched_at, last_read = self._entries[pid]
                if seen >= limit or now - last_read > keep_warm_s:
                    break  # LRU order: every entry after this one was read even longer ago
                if now - fetched_at >= self.ttl_s / 2:
                    found.append((fetched_at, pid))
        return [pid for _fetched_at, pid in sorted(found)]


class LegacyInventoryAvailability(LegacyClient):
    """Implements the catalog service's AvailabilitySource port against the monolith's batch endpoint."""

    def __init__(self, base_url: str, *, ttl_s: float = DEFAULT_TTL_S, max_entries: int = DEFAULT_MAX_ENTRIES,
                 keep_warm_s: float = DEFAULT_KEEP_WARM_S, warm_max: int = DEFAULT_WARM_MAX,
                 background: bool = True, clock: Callable[[], float] = time.monotonic, **kwargs: object) -> None:
        """background=False: no refresh thread (tests drive `refresh_once` with their own clock)."""
        super().__init__(base_url, **kwargs)  # type: ignore[arg-type]
        self.cache = AvailabilityCache(ttl_s, max_entries, clock)
        self.keep_warm_s = keep_warm_s
        self.warm_max = min(warm_max, max_entries)
        self.background = background
        self._stop = threading.Event()
        self._refresher: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def available(self, product_ids: Iterable[int], *, fresh: bool = False) -> dict[int, int]:
        """Units available per id; cached values (< ttl_s old) unless `fresh`. Any failure to read the
        missing ones → AvailabilityUnavailable (no guessing, no value older than the TTL)."""
        ids = list(dict.fromkeys(product_ids))
        found = {} if fresh else self.cache.get_many(ids)
        found.update(self._read([pid for pid in ids if pid not in found], read=True))
        if self.background and self.cache.ttl_s and self.keep_warm_s and self._refresher is None:
            self._start_refresher()
        return {pid: found[pid] for pid in ids}

    def refresh_once(self) -> int:
        """One refresh-ahead sweep (the background thread calls it every ttl_s / 4); the number of ids re-read."""
        due = self.cache.due(self.keep_warm_s, self.warm_max)
        self._read(due, read=False)
        return len(due)

    def _read(self, ids: list[int], *, read: bool) -> dict[int, int]:
        found: dict[int, int] = {}
        for start in range(0, len(ids), MAX_BATCH):
            sent_at = self.cache.clock()
            chunk = self._fetch(ids[start:start + MAX_BATCH])
            self.cache.put_many(chunk, sent_at, read=read)
            found.update(chunk)
        return found

    def _start_refresher(self) -> None:
        """Started by the first read (not at import: uvicorn forks its workers after importing the app)."""
        with self._start_lock:
            if self._refresher is None and not self._stop.is_set():
                self._refresher = threading.Thread(target=self._refresh_loop, name="availability-refresh",
                                                   daemon=True)
                self._refresher.start()

    def _refresh_loop(self) -> None:
        while not self._stop.wait(self.cache.ttl_s / 4):  # due at TTL/2: refreshed well before expiry
            try:
                self.refresh_once()
            except AvailabilityUnavailable as exc:
                log.warning("availability refresh-ahead failed; reads ask legacy themselves: %s", exc)

    def close(self) -> None:
        self._stop.set()
        if self._refresher is not None:
            self._refresher.join(timeout=self.cache.ttl_s + 5)
        super().close()

    def _fetch(self, ids: list[int]) -> dict[int, int]:
        try:
            payload = self.get_json(PATH, ids=",".join(map(str, ids)))
            return availability_from_batch(payload, ids)
        except (LegacyUnavailable, LegacyRejected, TranslationError) as exc:
            raise AvailabilityUnavailable(f"legacy inventory: {exc}") from exc


def availability_from_batch(payload: object, ids: list[int]) -> dict[int, int]:
    """{"Availability": [{"ProductId", "TotalAvailable"}, ...]} → id → units (never below 0); every asked
    id must be answered (tolerant reader: other fields are ignored)."""
    rows = field(payload, "Availability", source="legacy availability answer")
    if not isinstance(rows, list):
        raise TranslationError("Availability", rows, "expected a list")
    read = {}
    for row in rows:
        pid = require_int(field(row, "ProductId", source="legacy availability row"), "ProductId")
        read[pid] = max(require_int(field(row, "TotalAvailable", source="legacy availability row"),
                                    "TotalAvailable"), 0)
    absent = [pid for pid in ids if pid not in read]
    if absent:
        raise TranslationError("Availability", absent[:5], "asked ids missing from the answer")
    return read
