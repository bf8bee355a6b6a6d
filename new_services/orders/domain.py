"""Orders domain model: an Order aggregate (header + lines), its invariants and status rules.

No framework, no legacy names. Why the rules live here: the native API, the legacy-compatible API and the
backfill all build orders through these types, so an order that breaks a rule cannot enter by a side door.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
MAX_LINES = 50
MAX_QUANTITY = 100_000
PRICE_MAX = Decimal("99999999.99")
WAREHOUSE_MAX = 4


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


#: the only forward moves along the status endpoint; cancelling is its own operation
FORWARD: dict[OrderStatus, OrderStatus] = {OrderStatus.PENDING: OrderStatus.PAID,
                                           OrderStatus.PAID: OrderStatus.SHIPPED,
                                           OrderStatus.SHIPPED: OrderStatus.DELIVERED}
CANCELLABLE = frozenset({OrderStatus.PENDING, OrderStatus.PAID})


# --- errors -----------------------------------------------------------------------------------------------

class InvalidOrder(ValueError):
    """A value breaks an order rule: `field` (domain name), the offending `value`, and the `reason`."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}: {reason}")


class OrderNotFound(LookupError):
    def __init__(self, order_id: int) -> None:
        super().__init__(f"order {order_id} does not exist")
        self.order_id = order_id


class InvalidTransition(ValueError):
    def __init__(self, order_id: int | None, current: OrderStatus, target: OrderStatus) -> None:
        self.order_id, self.current, self.target = order_id, current, target
        allowed = FORWARD.get(current)
        if target is OrderStatus.CANCELLED:
            hint = "only pending or paid orders can be cancelled"
        else:
            hint = f"the only next status is {allowed}" if allowed else "no further status change is possible"
        super().__init__(f"cannot change order {order_id} from {current} to {target}; {hint}")


class CustomerNotFound(LookupError):
    def __init__(self, customer_id: int) -> None:
        super().__init__(f"customer {customer_id} does not exist")
        self.customer_id = customer_id


class ProductNotFound(LookupError):
    def __init__(self, product_id: int, index: int) -> None:
        super().__init__(f"lines[{index}]: product {product_id} does not exist")
        self.product_id, self.index = product_id, index


class ProductInactive(ValueError):
    def __init__(self, product_id: int, index: int) -> None:
        super().__init__(f"lines[{index}]: product {product_id} is not for sale")
        self.product_id, self.index = product_id, index


class InsufficientStock(RuntimeError):
    def __init__(self, product_id: int, quantity: int, index: int) -> None:
        super().__init__(f"lines[{index}]: fewer than {quantity} unit(s) of product {product_id} available "
                         "in any single warehouse")
        self.product_id, self.quantity, self.index = product_id, quantity, index


class DependencyUnavailable(RuntimeError):
    """Another system (customers, catalog, inventory) did not answer usefully; nothing was left half done."""

    def __init__(self, system: str, detail: str) -> None:
        super().__init__(f"{system} is unavailable: {detail}")
        self.system, self.detail = system, detail


class OrderNotStored(RuntimeError):
    """The local write failed; every reservation made for the order was released (or queued for release)."""


class ReservationUncertain(DependencyUnavailable):
    """A reserve request was sent but its answer never came: it may or may not have reserved stock.
    `reference` (the request's idempotency key) is how the saga finds out and undoes it."""

    def __init__(self, system: str, detail: str, reference: str) -> None:
        super().__init__(system, detail)
        self.reference = reference


class StockRefused(RuntimeError):
    """The inventory system definitely refused a stock operation: its state disagrees with the order
    (e.g. the reservation was released behind the order's back). Retrying will not help; a person must look."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class ShipmentIncomplete(RuntimeError):
    """Shipping stopped at `failed_line`: the order stays paid. Lines in `consumed` left stock for good (there
    is no un-consume); retrying the status change consumes only the rest. `retryable`: the cause was an outage."""

    def __init__(self, order_id: int, consumed: list[int], failed_line: int, cause: Exception) -> None:
        self.order_id, self.consumed, self.failed_line = order_id, consumed, failed_line
        self.retryable = isinstance(cause, DependencyUnavailable)
        done = f"line(s) {', '.join(map(str, consumed))} already left stock" if consumed else "no line left stock"
        advice = ("retry the status change to finish shipping (lines already consumed are skipped)"
                  if self.retryable else "fix the stock record, then retry the status change")
        super().__init__(f"order {order_id} was not marked shipped: stock for line {failed_line} could not be "
                         f"consumed ({cause}); {done}; {advice}")


class PartiallyShipped(RuntimeError):
    """A cancel of an order whose unfinished shipment already consumed some lines' stock."""

    def __init__(self, order_id: int, consumed: list[int]) -> None:
        self.order_id, self.consumed = order_id, consumed
        super().__init__(f"order {order_id} cannot be cancelled: the stock of line(s) "
                         f"{', '.join(map(str, consumed))} already left the warehouse in an unfinished shipment; "
                         "finish shipping it (retry the status change) instead")


# --- values -----------------------------------------------------------------------------------------------

def utcnow() -> datetime:
    return datetime.now(UTC)


def _positive_int(field: str, value: Any, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOrder(field, value, "must be a positive integer")
    if maximum is not None and value > maximum:
        raise InvalidOrder(field, value, f"must be at most {maximum}")


def check_money(field: str, amount: Any) -> None:
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise InvalidOrder(field, amount, "must be a finite Decimal amount")
    if amount < 0:
        raise InvalidOrder(field, amount, "must not be negative")
    if amount != amount.quantize(CENT):
        raise InvalidOrder(field, amount, "must have at most 2 decimal places")


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One product line. reservation_id: the inventory reservation holding its stock (None for orders
    placed before migration, whose stock the legacy system reserved without a reservation record)."""

    line_no: int
    product_id: int
    warehouse: str
    quantity: int
    unit_price: Decimal
    reservation_id: int | None = None

    def __post_init__(self) -> None:
        _positive_int("line_no", self.line_no)
        _positive_int("product_id", self.product_id)
        if not isinstance(self.warehouse, str) or not self.warehouse.strip() or len(self.warehouse) > WAREHOUSE_MAX:
            raise InvalidOrder("warehouse", self.warehouse, f"must be a warehouse code of 1-{WAREHOUSE_MAX} characters")
        _positive_int("quantity", self.quantity, MAX_QUANTITY)
        check_money("unit_price", self.unit_price)
        if self.unit_price > PRICE_MAX:
            raise InvalidOrder("unit_price", self.unit_price, f"must not exceed {PRICE_MAX}")
        if self.reservation_id is not None:
            _positive_int("reservation_id", self.reservation_id)

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Order:
    """The order aggregate. Immutable: transitions return a new Order. id is None until stored."""

    id: int | None
    customer_id: int
    status: OrderStatus
    placed_at: datetime
    lines: tuple[OrderLine, ...]

    def __post_init__(self) -> None:
        if self.id is not None:
            _positive_int("id", self.id)
        _positive_int("customer_id", self.customer_id)
        if not isinstance(self.status, OrderStatus):
            raise InvalidOrder("status", self.status, "must be one of " + ", ".join(s.value for s in OrderStatus))
        if not isinstance(self.placed_at, datetime) or self.placed_at.utcoffset() is None:
            raise InvalidOrder("placed_at", self.placed_at, "must be a time-zone-aware datetime")
        if not isinstance(self.lines, tuple) or not all(isinstance(ln, OrderLine) for ln in self.lines):
            raise InvalidOrder("lines", self.lines, "must be a tuple of order lines")
        if not 1 <= len(self.lines) <= MAX_LINES:
            raise InvalidOrder("lines", len(self.lines), f"an order has 1 to {MAX_LINES} lines")
        numbers = [ln.line_no for ln in self.lines]
        if numbers != sorted(set(numbers)):
            raise InvalidOrder("lines", numbers, "line numbers must be unique and in ascending order")

    @property
    def total(self) -> Decimal:
        return sum((ln.amount for ln in self.lines), Decimal("0.00")).quantize(CENT)

    @property
    def holds_stock(self) -> bool:
        """Pending and paid orders keep their lines' stock reserved."""
        return self.status in CANCELLABLE

    @property
    def reservation_ids(self) -> list[int]:
        return [ln.reservation_id for ln in self.lines if ln.reservation_id is not None]

    @classmethod
    def place(cls, *, customer_id: int, lines: tuple[OrderLine, ...], now: datetime | None = None) -> Order:
        return cls(id=None, customer_id=customer_id, status=OrderStatus.PENDING,
                   placed_at=(now or utcnow()).astimezone(UTC), lines=lines)

    def advance_to(self, target: OrderStatus) -> Order:
        """pending → paid → shipped → delivered, one step at a time."""
        if FORWARD.get(self.status) is not target:
            raise InvalidTransition(self.id, self.status, target)
        return dataclasses.replace(self, status=target)

    def cancel(self) -> Order:
        if self.status not in CANCELLABLE:
            raise InvalidTransition(self.id, self.status, OrderStatus.CANCELLED)
        return dataclasses.replace(self, status=OrderStatus.CANCELLED)

    def stored_as(self, order_id: int) -> Order:
        return dataclasses.replace(self, id=order_id)
