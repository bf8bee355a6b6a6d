"""Legacy inventory JSON → orders-side values (tolerant reader: only the fields we use are read)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acl.common.conventions import require_int, require_text
from acl.common.errors import TranslationError
from acl.common.legacy_client import field
from new_services.orders.ports import Reservation


def reservation_from_json(dto: Any, *, require_active: bool = True) -> Reservation:
    """{"ReservationId","ProductId","Warehouse","Quantity","Status"} → Reservation. A new reservation must be
    active ('A'); a looked-up one may also be released ('R') or consumed ('C')."""
    source = "legacy reservation answer"
    status = field(dto, "Status", source=source)
    if status not in (("A",) if require_active else ("A", "R", "C")):
        raise TranslationError("Status", status, "a new reservation must be active ('A')" if require_active
                               else "expected A, R or C")
    return Reservation(id=require_int(field(dto, "ReservationId", source=source), "ReservationId"),
                       product_id=require_int(field(dto, "ProductId", source=source), "ProductId"),
                       warehouse=str(require_text(field(dto, "Warehouse", source=source), "Warehouse")),
                       quantity=require_int(field(dto, "Quantity", source=source), "Quantity"),
                       active=status == "A")


def availability_from_json(dto: Any) -> dict[str, int]:
    """{"Warehouses": [{"Warehouse", "Available", ...}]} → warehouse code → units available."""
    rows = field(dto, "Warehouses", source="legacy inventory answer")
    if not isinstance(rows, list):
        raise TranslationError("Warehouses", rows, "expected a list")
    found: dict[str, int] = {}
    for row in rows:
        if not isinstance(row, Mapping):
            raise TranslationError("Warehouses[]", row, "expected an object")
        code = str(require_text(field(row, "Warehouse"), "Warehouse"))
        found[code] = require_int(field(row, "Available"), "Available")
    return found


def pick_warehouse(available: Mapping[str, int], quantity: int) -> str | None:
    """The legacy placement rule: the warehouse with the most units available, ties by code."""
    candidates = sorted((-units, code) for code, units in available.items() if units >= quantity)
    return candidates[0][1] if candidates else None
