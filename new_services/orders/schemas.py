"""Native API (/v2) request and response models: separate Create / Update / Public shapes."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from new_services.common.types import MAX_ID
from new_services.orders.domain import MAX_LINES, MAX_QUANTITY, Order, OrderStatus
from new_services.orders.repository import to_minor
from new_services.orders.saga import LineRequest


class OrderLineCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[int, Field(gt=0, le=MAX_ID, strict=True)]
    quantity: Annotated[int, Field(gt=0, le=MAX_QUANTITY, strict=True)]


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Annotated[int | None, Field(
        gt=0, le=MAX_ID, strict=True, description="default: the logged-in customer (the only one allowed)")] = None
    lines: Annotated[list[OrderLineCreate], Field(min_length=1, max_length=MAX_LINES)]

    def line_requests(self) -> list[LineRequest]:
        return [LineRequest(product_id=ln.product_id, quantity=ln.quantity) for ln in self.lines]


class OrderStatusUpdate(BaseModel):
    """Move an order one step forward; cancelling has its own endpoint (it releases stock)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal[OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED]


class OrderLinePublic(BaseModel):
    line_no: int
    product_id: int
    warehouse: str
    quantity: int
    unit_price: str = Field(description="decimal string with 2 places")
    unit_price_minor: int
    reservation_id: int | None


class OrderPublic(BaseModel):
    id: int
    customer_id: int
    status: OrderStatus
    placed_at: datetime
    currency: str = "GBP"
    total: str = Field(description="decimal string with 2 places")
    total_minor: int
    lines: list[OrderLinePublic]

    @classmethod
    def of(cls, order: Order) -> OrderPublic:
        assert order.id is not None
        return cls(id=order.id, customer_id=order.customer_id, status=order.status, placed_at=order.placed_at,
                   total=f"{order.total:.2f}", total_minor=to_minor(order.total),
                   lines=[OrderLinePublic(line_no=ln.line_no, product_id=ln.product_id, warehouse=ln.warehouse,
                                          quantity=ln.quantity, unit_price=f"{ln.unit_price:.2f}",
                                          unit_price_minor=to_minor(ln.unit_price),
                                          reservation_id=ln.reservation_id) for ln in order.lines])


class OrdersPage(BaseModel):
    items: list[OrderPublic]
    next_cursor: str | None = Field(description="pass as ?cursor= to get the next page; null on the last")
