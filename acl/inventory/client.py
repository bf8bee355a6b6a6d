"""Inventory adapter over the monolith's explicit reservations API.

- reserve: POST /api/inventory/reservations — never retried (a retry after a lost answer could reserve
  twice). The warehouse is chosen first from GET /api/inventory/{id} with the monolith's own placement rule
  (most available), so orders placed here pick the warehouse the monolith would; if that warehouse lost the
  race (409: nothing was reserved), one reservation without a warehouse lets the monolith pick any.
- release: POST …/{id}/release — idempotent by meaning (already released or unknown counts as done), so
  it IS retried on timeouts and 5xx.
"""
from __future__ import annotations

import time

from acl.common.errors import TranslationError
from acl.common.legacy_client import LegacyClient, LegacyRejected, LegacyUnavailable
from acl.inventory.translate import (
    availability_from_json,
    pick_warehouse,
    reservation_from_json,
)
from new_services.orders.domain import DependencyUnavailable, InsufficientStock
from new_services.orders.ports import Reservation

SYSTEM = "inventory"


class LegacyInventory(LegacyClient):
    def availability(self, product_id: int) -> dict[str, int]:
        try:
            return availability_from_json(self.get_json(f"/api/inventory/{product_id}"))
        except LegacyRejected as exc:
            if exc.status == 404:  # no stock rows: nothing available anywhere
                return {}
            raise DependencyUnavailable(SYSTEM, str(exc)) from None
        except (LegacyUnavailable, TranslationError) as exc:
            raise DependencyUnavailable(SYSTEM, str(exc)) from None

    def warehouse_with(self, product_id: int, quantity: int, index: int) -> str:
        warehouse = pick_warehouse(self.availability(product_id), quantity)
        if warehouse is None:
            raise InsufficientStock(product_id, quantity, index)
        return warehouse

    def reserve(self, product_id: int, quantity: int, index: int) -> Reservation:
        preferred = self.warehouse_with(product_id, quantity, index)
        for warehouse in (preferred, None):
            body = {"ProductId": product_id, "Quantity": quantity}
            if warehouse is not None:
                body["Warehouse"] = warehouse
            try:
                return reservation_from_json(self.request_json("POST", "/api/inventory/reservations", json=body))
            except LegacyRejected as exc:
                if exc.status == 409 and exc.code == "INSUFFICIENT_STOCK":
                    continue  # a definite "no": nothing was reserved, safe to ask once more
                raise DependencyUnavailable(SYSTEM, str(exc)) from None
            except (LegacyUnavailable, TranslationError) as exc:
                raise DependencyUnavailable(SYSTEM, str(exc)) from None
        raise InsufficientStock(product_id, quantity, index)

    def release(self, reservation_id: int) -> None:
        last = "no attempt"
        for attempt in range(1 + self.retries):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                self.request_json("POST", f"/api/inventory/reservations/{reservation_id}/release")
                return
            except LegacyRejected as exc:
                if exc.code in ("RESERVATION_NOT_ACTIVE", "RESERVATION_NOT_FOUND"):
                    return  # already released (perhaps by our own earlier attempt whose answer was lost)
                raise DependencyUnavailable(SYSTEM, str(exc)) from None
            except LegacyUnavailable as exc:
                last = str(exc)
        raise DependencyUnavailable(SYSTEM, f"release of reservation {reservation_id}: {last}")
