"""Domain errors → RFC 9457 problem details for the native API (one table, used by an app-level handler)."""
from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from new_services.common.problems import problem_response
from new_services.orders.domain import (
    CustomerNotFound,
    DependencyUnavailable,
    InsufficientStock,
    InvalidOrder,
    InvalidTransition,
    OrderNotFound,
    OrderNotStored,
    PartiallyShipped,
    ProductInactive,
    ProductNotFound,
    ShipmentIncomplete,
    StockRefused,
)

#: exception type → (HTTP status, stable error code)
STATUS_AND_CODE: dict[type[Exception], tuple[int, str]] = {
    CustomerNotFound: (422, "CUSTOMER_NOT_FOUND"),
    ProductNotFound: (422, "PRODUCT_NOT_FOUND"),
    ProductInactive: (422, "PRODUCT_INACTIVE"),
    InvalidOrder: (422, "INVALID_ORDER"),
    InsufficientStock: (409, "INSUFFICIENT_STOCK"),
    OrderNotFound: (404, "ORDER_NOT_FOUND"),
    InvalidTransition: (409, "INVALID_STATUS_TRANSITION"),
    PartiallyShipped: (409, "ORDER_PARTIALLY_SHIPPED"),
    StockRefused: (409, "STOCK_REFUSED"),
    ShipmentIncomplete: (503, "SHIPMENT_INCOMPLETE"),
    DependencyUnavailable: (503, "DEPENDENCY_UNAVAILABLE"),
    OrderNotStored: (503, "ORDER_NOT_STORED"),
}
DOMAIN_ERRORS = tuple(STATUS_AND_CODE)


def domain_problem(exc: Exception, instance: str) -> JSONResponse:
    status, code = next(v for t, v in STATUS_AND_CODE.items() if isinstance(exc, t))
    if isinstance(exc, ShipmentIncomplete) and not exc.retryable:
        status = 409  # a refusal by inventory, not an outage: retrying as is will not help
    extensions: dict[str, Any] = {"code": code}
    headers = None
    if isinstance(exc, DependencyUnavailable):
        extensions["system"] = exc.system
        headers = {"Retry-After": "2"}
        detail = f"{exc.system} did not answer usefully ({exc.detail}); nothing was changed, retry shortly"
    else:
        detail = str(exc)
    if isinstance(exc, InvalidOrder):
        extensions["field"] = exc.field
    if isinstance(exc, ShipmentIncomplete | PartiallyShipped):
        extensions["consumed_lines"] = exc.consumed
    return problem_response(status, detail, instance=instance, headers=headers, **extensions)
