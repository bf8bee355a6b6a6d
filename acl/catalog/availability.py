"""Stock availability for catalog answers, read from the legacy inventory API (inventory stays in the
monolith). Why over HTTP and not SQL: the catalog service has its own database and must not reach into the
monolith's tables; the inventory API is the monolith's published contract.

Legacy semantics reproduced: Available = sum over warehouses of (on hand − reserved); a product without
stock rows (legacy answers 404 STOCK_NOT_FOUND) has 0 available.
"""
from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from acl.common.errors import TranslationError
from acl.common.legacy_client import (
    LegacyClient,
    LegacyRejected,
    LegacyUnavailable,
    field,
)
from new_services.catalog.ports import AvailabilityUnavailable


class LegacyInventoryAvailability(LegacyClient):
    """Implements the catalog service's AvailabilitySource port against GET /api/inventory/{product_id}."""

    def __init__(self, base_url: str, *, parallelism: int = 8, **kwargs: object) -> None:
        super().__init__(base_url, **kwargs)  # type: ignore[arg-type]
        self._pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="legacy-inventory")

    def available_one(self, product_id: int) -> int:
        try:
            payload = self.get_json(f"/api/inventory/{product_id}")
        except LegacyRejected as exc:
            if exc.status == 404:
                return 0
            raise
        total = field(payload, "TotalAvailable", source="legacy inventory answer")
        if isinstance(total, bool) or not isinstance(total, int):
            raise TranslationError("TotalAvailable", total, "expected an integer")
        return max(total, 0)

    def available(self, product_ids: Iterable[int]) -> dict[int, int]:
        """Availability per id, fetched in parallel; any failure → AvailabilityUnavailable (no guessing)."""
        ids = list(dict.fromkeys(product_ids))
        try:
            if len(ids) <= 1:
                return {pid: self.available_one(pid) for pid in ids}
            return dict(zip(ids, self._pool.map(self.available_one, ids), strict=True))
        except (LegacyUnavailable, LegacyRejected, TranslationError) as exc:
            raise AvailabilityUnavailable(f"legacy inventory: {exc}") from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        super().close()
