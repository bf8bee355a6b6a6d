"""Stock availability for catalog answers, read from the legacy inventory API (inventory stays in the
monolith). Why over HTTP and not SQL: the catalog service has its own database and must not reach into the
monolith's tables; the inventory API is the monolith's published contract.

Legacy semantics reproduced: Available = sum over warehouses of (on hand − reserved); a product without
stock rows has 0 available.

Cost: one call per answer, whatever the page size — GET /api/inventory/availability?ids=1,2,3 (a batch
endpoint added to the monolith for this; at most MAX_BATCH ids per call, larger sets are split).

Staleness (the rule the ACL docs state): the legacy-compatible READS — GET /api/products and
GET /api/products/{id} — may answer with availability up to `ttl_s` old (default 2 s, CATALOG_AVAILABILITY_TTL_S;
0 turns the cache off). Age counts from when the call that fetched it was sent, so no value served is older
than the TTL. Answers to writes (PUT, deactivate) ask `fresh=True`: always read now. The cache holds at most
`max_entries` products (least recently used evicted), per service worker process.
"""
from __future__ import annotations

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
DEFAULT_TTL_S = 2.0
DEFAULT_MAX_ENTRIES = 10_000


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
        self._entries: OrderedDict[int, tuple[int, float]] = OrderedDict()
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
                    found[pid] = entry[0]
                    self._entries.move_to_end(pid)
                else:
                    del self._entries[pid]
        return found

    def put_many(self, values: Mapping[int, int], fetched_at: float) -> None:
        """Store values read by a call sent at `fetched_at` (an older read never replaces a newer one)."""
        if not self.ttl_s:
            return
        with self._lock:
            for pid, units in values.items():
                current = self._entries.get(pid)
                if current is None or current[1] <= fetched_at:
                    self._entries[pid] = (units, fetched_at)
                    self._entries.move_to_end(pid)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


class LegacyInventoryAvailability(LegacyClient):
    """Implements the catalog service's AvailabilitySource port against the monolith's batch endpoint."""

    def __init__(self, base_url: str, *, ttl_s: float = DEFAULT_TTL_S, max_entries: int = DEFAULT_MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic, **kwargs: object) -> None:
        super().__init__(base_url, **kwargs)  # type: ignore[arg-type]
        self.cache = AvailabilityCache(ttl_s, max_entries, clock)

    def available(self, product_ids: Iterable[int], *, fresh: bool = False) -> dict[int, int]:
        """Units available per id; cached values (< ttl_s old) unless `fresh`. Any failure to read the
        missing ones → AvailabilityUnavailable (no guessing, no value older than the TTL)."""
        ids = list(dict.fromkeys(product_ids))
        found = {} if fresh else self.cache.get_many(ids)
        missing = [pid for pid in ids if pid not in found]
        for start in range(0, len(missing), MAX_BATCH):
            chunk = missing[start:start + MAX_BATCH]
            sent_at = self.cache.clock()
            read = self._fetch(chunk)
            self.cache.put_many(read, sent_at)
            found.update(read)
        return {pid: found[pid] for pid in ids}

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
