"""Inventory request DTOs and legacy JSON shapes."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictInt

from legacy_monolith.inventory.models import REFERENCE_MAX, Reservation, Stock
from legacy_monolith.validation import MAX_PAGE_SIZE, Id, LegacyBody, PageQuery, Quantity, QueryId

WarehouseCode = Annotated[str, Field(min_length=1, max_length=4)]
#: the caller's idempotency key: letters, digits and . _ : - (no spaces), at most 64 characters
ReferenceKey = Annotated[str, Field(min_length=1, max_length=REFERENCE_MAX, pattern=r"^[A-Za-z0-9._:-]+$")]


class Adjustment(LegacyBody):
    Warehouse: WarehouseCode
    Delta: Annotated[StrictInt, Field(ge=-1_000_000, le=1_000_000)]
    Reason: Annotated[str, Field(min_length=1, max_length=200)]


class ReservationCreate(LegacyBody):
    """Reference (optional): the same Reference twice returns the first reservation and never reserves twice."""
    ProductId: Id
    Quantity: Quantity
    Warehouse: WarehouseCode | None = None
    Reference: ReferenceKey | None = None


class UntrackedStockMove(LegacyBody):
    """Release or consume stock reserved without a reservation row (legacy orders); idempotent by Reference."""
    Warehouse: WarehouseCode
    Quantity: Quantity
    Reference: ReferenceKey


class ReservationQuery(PageQuery):
    reference: ReferenceKey | None = None
    product_id: QueryId | None = None
    status: Literal["A", "R", "C"] | None = None


#: at most one list page's worth of ids per batch call: a bounded query, a bounded answer
MAX_AVAILABILITY_IDS = MAX_PAGE_SIZE


def _comma_separated(value: object) -> object:
    return value.split(",") if isinstance(value, str) else value


class AvailabilityQuery(BaseModel):
    """?ids=1,2,3 — the products whose total availability is asked for (duplicates answered once)."""
    ids: Annotated[list[QueryId], BeforeValidator(_comma_separated),
                   Field(min_length=1, max_length=MAX_AVAILABILITY_IDS)]


def availability_json(totals: dict[int, int], ids: list[int]) -> dict[str, Any]:
    """Every asked id in the asked order; an id without stock rows has 0 available."""
    return {"Availability": [{"ProductId": pid, "TotalAvailable": totals.get(pid, 0)}
                             for pid in dict.fromkeys(ids)]}


def inventory_json(product_id: int, rows: list[Stock]) -> dict[str, Any]:
    warehouses = [{"Warehouse": r.warehouse, "OnHand": r.on_hand, "Reserved": r.reserved,
                   "Available": r.on_hand - r.reserved} for r in rows]
    return {"ProductId": product_id, "Warehouses": warehouses,
            "TotalAvailable": sum(w["Available"] for w in warehouses)}


def reservation_json(rsv: Reservation) -> dict[str, Any]:
    return {"ReservationId": rsv.id, "ProductId": rsv.product_id, "Warehouse": rsv.warehouse,
            "Quantity": rsv.quantity, "Status": rsv.status, "Reference": rsv.reference}
