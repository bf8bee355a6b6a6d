"""Inventory adapter over the monolith's reservations API.

- reserve: POST /api/inventory/reservations with a "Reference" (the caller's idempotency key) — sent once:
  when the answer is lost the outcome is unknown, reported as ReservationUncertain so the saga can look
  the reference up (`find`) and undo it. The warehouse is chosen first from GET /api/inventory/{id} with the
  monolith's own placement rule (most available), so orders placed here pick the warehouse the monolith
  would; if that warehouse lost the race (409: nothing was reserved), one more POST without a warehouse
  (same Reference — nothing was stored under it) lets the monolith pick any.
- find: GET /api/inventory/reservations?reference= (read-only, retried).
- release / consume (by id) and release_untracked / consume_untracked (by Reference) are idempotent, so
  they ARE retried on timeouts and 5xx; "already done" answers count as success.
"""
from __future__ import annotations

import time
from typing import Any

from acl.common.errors import TranslationError
from acl.common.legacy_client import (
    LegacyClient,
    LegacyRejected,
    LegacyUnavailable,
    field,
)
from acl.inventory.translate import (
    availability_from_json,
    pick_warehouse,
    reservation_from_json,
)
from new_services.orders.domain import (
    DependencyUnavailable,
    InsufficientStock,
    ReservationUncertain,
    StockRefused,
)
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

    def reserve(self, product_id: int, quantity: int, index: int, reference: str) -> Reservation:
        preferred = self.warehouse_with(product_id, quantity, index)
        for warehouse in (preferred, None):
            body: dict[str, Any] = {"ProductId": product_id, "Quantity": quantity, "Reference": reference}
            if warehouse is not None:
                body["Warehouse"] = warehouse
            try:
                return reservation_from_json(self.request_json("POST", "/api/inventory/reservations", json=body))
            except LegacyRejected as exc:
                if exc.status == 409 and exc.code == "INSUFFICIENT_STOCK":
                    continue  # a definite "no": nothing was reserved, safe to ask once more
                raise DependencyUnavailable(SYSTEM, str(exc)) from None
            except (LegacyUnavailable, TranslationError) as exc:
                raise ReservationUncertain(SYSTEM, str(exc), reference) from None
        raise InsufficientStock(product_id, quantity, index)

    def find(self, reference: str) -> Reservation | None:
        try:
            page = self.get_json("/api/inventory/reservations", reference=reference)
            rows = field(page, "Reservations", source="legacy reservations list")
            if not isinstance(rows, list) or len(rows) > 1:
                raise TranslationError("Reservations", rows, "expected at most one reservation per reference")
            return reservation_from_json(rows[0], require_active=False) if rows else None
        except (LegacyUnavailable, LegacyRejected, TranslationError) as exc:
            raise DependencyUnavailable(SYSTEM, f"looking up reference {reference}: {exc}") from None

    def release(self, reservation_id: int) -> None:
        self._idempotent(f"/api/inventory/reservations/{reservation_id}/release", None,
                         done=("RESERVATION_NOT_ACTIVE", "RESERVATION_NOT_FOUND"), refused=("RESERVATION_CONSUMED",))

    def consume(self, reservation_id: int) -> None:
        self._idempotent(f"/api/inventory/reservations/{reservation_id}/consume", None,
                         done=("RESERVATION_CONSUMED",),
                         refused=("RESERVATION_NOT_ACTIVE", "RESERVATION_NOT_FOUND", "STOCK_INCONSISTENT"))

    def release_untracked(self, product_id: int, warehouse: str, quantity: int, reference: str) -> None:
        self._idempotent(f"/api/inventory/{product_id}/release", _move(warehouse, quantity, reference),
                         done=(), refused=("INSUFFICIENT_RESERVED", "REFERENCE_CONFLICT", "STOCK_NOT_FOUND",
                                           "WAREHOUSE_NOT_FOUND"))

    def consume_untracked(self, product_id: int, warehouse: str, quantity: int, reference: str) -> None:
        self._idempotent(f"/api/inventory/{product_id}/consume-untracked", _move(warehouse, quantity, reference),
                         done=(), refused=("INSUFFICIENT_RESERVED", "REFERENCE_CONFLICT", "STOCK_NOT_FOUND",
                                           "WAREHOUSE_NOT_FOUND"))

    def _idempotent(self, path: str, body: dict[str, Any] | None, *, done: tuple[str, ...],
                    refused: tuple[str, ...]) -> None:
        """POST an operation that is safe to repeat: retried on outages; `done` codes mean 'already done',
        `refused` codes are a definite no (StockRefused); any other 4xx is treated as an outage."""
        last = "no attempt"
        for attempt in range(1 + self.retries):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                self.request_json("POST", path, json=body)
                return
            except LegacyRejected as exc:
                if exc.code in done:
                    return  # perhaps by our own earlier attempt whose answer was lost
                if exc.code in refused:
                    raise StockRefused(f"{SYSTEM} refused POST {path}: {exc.code}: {exc.message}") from None
                raise DependencyUnavailable(SYSTEM, str(exc)) from None
            except LegacyUnavailable as exc:
                last = str(exc)
        raise DependencyUnavailable(SYSTEM, f"POST {path}: {last}")


def _move(warehouse: str, quantity: int, reference: str) -> dict[str, Any]:
    return {"Warehouse": warehouse, "Quantity": quantity, "Reference": reference}
