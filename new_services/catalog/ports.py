"""What the catalog needs from the outside world, as interfaces the domain side owns.

Availability is not catalog data: inventory still lives in the legacy monolith. The legacy-compatible
answers need it, so the service depends on this port and `acl/` supplies the adapter.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class AvailabilitySource(Protocol):
    def available(self, product_ids: Iterable[int], *, fresh: bool = False) -> dict[int, int]:
        """Units available per product id (0 when none). May be a few seconds stale (the adapter's cache)
        unless `fresh`: answers to writes ask for it."""
        ...

    def close(self) -> None: ...


class AvailabilityUnavailable(RuntimeError):
    """Availability could not be obtained right now (the answer would be wrong, so none is given)."""
