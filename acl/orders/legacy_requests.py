"""The legacy orders request contract (bodies, list query) and its error wording, reproduced so the service
validates and answers exactly as the monolith does; plus domain error → legacy envelope mapping.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from acl.common.envelope import LegacyApiError, not_found
from acl.orders.translate import (
    STATUS_FROM_LEGACY,
    STATUS_NAMES,
    STATUS_TO_LEGACY,
    status_to_legacy,
)
from new_services.common.types import MAX_ID
from new_services.orders.domain import (
    FORWARD,
    CustomerNotFound,
    DependencyUnavailable,
    InsufficientStock,
    InvalidTransition,
    OrderNotFound,
    OrderNotStored,
    OrderStatus,
    PartiallyShipped,
    ProductInactive,
    ProductNotFound,
    ShipmentIncomplete,
    StockRefused,
)
from new_services.orders.repository import OrderFilter
from new_services.orders.saga import LineRequest

MAX_LINES = 50
MAX_PAGE_SIZE = 200
Id = Annotated[StrictInt, Field(gt=0, le=MAX_ID)]  # as the monolith: an id no column can hold is a 400
Quantity = Annotated[StrictInt, Field(gt=0, le=100_000)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, str_strip_whitespace=True, extra="ignore")


class LineIn(_Body):
    ProductId: Id
    Quantity: Quantity


class OrderCreateBody(_Body):
    CustomerId: Id
    Lines: Annotated[list[LineIn], Field(min_length=1, max_length=MAX_LINES)]

    def line_requests(self) -> list[LineRequest]:
        return [LineRequest(product_id=ln.ProductId, quantity=ln.Quantity) for ln in self.Lines]


class StatusChangeBody(_Body):
    Status: Literal["P", "S", "D"]

    @property
    def target(self) -> OrderStatus:
        return STATUS_FROM_LEGACY[self.Status]


class OrderListQuery(BaseModel):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)
    customer_id: Annotated[int, Field(gt=0, le=MAX_ID)] | None = None
    status: Literal["N", "P", "S", "D", "C"] | None = None

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def to_filter(self) -> OrderFilter:
        return OrderFilter(customer_id=self.customer_id,
                           status=None if self.status is None else STATUS_FROM_LEGACY[self.status])


def transition_message(exc: InvalidTransition) -> str:
    current = status_to_legacy(exc.current)
    if exc.target is OrderStatus.CANCELLED:
        return (f"order {exc.order_id} is {current} ({STATUS_NAMES[current]}); "
                "only new (N) or paid (P) orders can be cancelled")
    target = STATUS_TO_LEGACY[exc.target]
    allowed = FORWARD.get(exc.current)
    hint = f"the only next status is {STATUS_TO_LEGACY[allowed]}" if allowed else \
        "no further status change is possible"
    return (f"cannot change an order from {current} ({STATUS_NAMES[current]}) to {target} "
            f"({STATUS_NAMES[target]}); {hint}")


def legacy_error(exc: Exception) -> LegacyApiError | None:
    """The monolith's envelope for a domain error, or None when the error is not an expected one."""
    match exc:
        case CustomerNotFound():
            return LegacyApiError(422, "CUSTOMER_NOT_FOUND", f"customer {exc.customer_id} does not exist")
        case ProductNotFound():
            return LegacyApiError(422, "PRODUCT_NOT_FOUND",
                                  f"Lines[{exc.index}]: product {exc.product_id} does not exist")
        case ProductInactive():
            return LegacyApiError(422, "PRODUCT_INACTIVE",
                                  f"Lines[{exc.index}]: product {exc.product_id} is not for sale")
        case InsufficientStock():
            return LegacyApiError(409, "INSUFFICIENT_STOCK",
                                  f"Lines[{exc.index}]: fewer than {exc.quantity} unit(s) of product "
                                  f"{exc.product_id} available in any single warehouse")
        case OrderNotFound():
            return not_found("ORDER_NOT_FOUND", "order", exc.order_id)
        case InvalidTransition():
            return LegacyApiError(409, "INVALID_STATUS_TRANSITION", transition_message(exc))
        case ShipmentIncomplete():
            return LegacyApiError(503 if exc.retryable else 409, "SHIPMENT_INCOMPLETE", str(exc))
        case PartiallyShipped():
            return LegacyApiError(409, "ORDER_PARTIALLY_SHIPPED", str(exc))
        case StockRefused():
            return LegacyApiError(409, "STOCK_INCONSISTENT", str(exc))
        case DependencyUnavailable():
            return LegacyApiError(503, f"{exc.system.upper()}_UNAVAILABLE",
                                  f"the {exc.system} system did not answer in time; nothing was changed, "
                                  "retry shortly")
        case OrderNotStored():
            return LegacyApiError(503, "DATABASE_UNAVAILABLE", "the database is unavailable or busy; retry shortly")
    return None
