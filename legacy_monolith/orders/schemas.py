"""Order request DTOs and the legacy JSON shape of an order."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from legacy_monolith.conventions import money_str
from legacy_monolith.orders.models import Order
from legacy_monolith.validation import Id, LegacyBody, PageQuery, Quantity, QueryId

MAX_LINES = 50

class LineIn(LegacyBody):
    ProductId: Id
    Quantity: Quantity

class OrderCreate(LegacyBody):
    CustomerId: Id
    Lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]

class StatusChange(LegacyBody):
    Status: Literal["P", "S", "D"]

class OrderQuery(PageQuery):
    customer_id: QueryId | None = None
    status: Literal["N", "P", "S", "D", "C"] | None = None

def order_json(order: Order) -> dict[str, Any]:
    return {
        "OrderId": order.id,
        "CustomerId": order.customer_id,
        "Status": order.status,
        "OrderDate": order.ordered_at,
        "Total": float(order.total),
        "Lines": [{"LineNo": ln.line_no, "ProductId": ln.product_id, "Warehouse": ln.warehouse,
                   "Quantity": ln.quantity, "UnitPrice": money_str(ln.unit_price)} for ln in order.lines],
    }

