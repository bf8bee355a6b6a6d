"""Inventory request DTOs and legacy JSON shapes."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictInt

from legacy_monolith.inventory.models import Reservation, Stock
from legacy_monolith.validation import Id, LegacyBody, Quantity

WarehouseCode = Annotated[str, Field(min_length=1, max_length=4)]


class Adjustment(LegacyBody):
    Warehouse: WarehouseCode
    Delta: Annotated[StrictInt, Field(ge=-1_000_000, le=1_000_000)]
    Reason: Annotated[str, Field(min_length=1, max_length=200)]


class ReservationCreate(LegacyBody):
    ProductId: Id
    Quantity: Quantity
    Warehouse: WarehouseCode | None = None


def inventory_json(product_id: int, rows: list[Stock]) -> dict[str, Any]:
    warehouses = [{"Warehouse": r.warehouse, "OnHand": r.on_hand, "Reserved": r.reserved,
                   "Available": r.on_hand - r.reserved} for r in rows]
    return {"ProductId": product_id, "Warehouses": warehouses,
            "TotalAvailable": sum(w["Available"] for w in warehouses)}


def reservation_json(rsv: Reservation) -> dict[str, Any]:
    return {"ReservationId": rsv.id, "ProductId": rsv.product_id, "Warehouse": rsv.warehouse,
            "Quantity": rsv.quantity, "Status": rsv.status}
