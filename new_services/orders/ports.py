"""What placing and cancelling an order needs from other systems, as interfaces the orders side owns.

Customers, product prices and inventory stay in (or are served through) the legacy world; acl/ supplies
adapters. Adapters raise the domain errors (CustomerNotFound, InsufficientStock, DependencyUnavailable...),
never transport or legacy errors.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PriceQuote:
    product_id: int
    unit_price: Decimal
    active: bool


@dataclass(frozen=True, slots=True)
class Reservation:
    id: int
    product_id: int
    warehouse: str
    quantity: int
    active: bool = True


class CustomerDirectory(Protocol):
    def ensure_exists(self, customer_id: int) -> None:
        """Return if the customer exists; raise CustomerNotFound or DependencyUnavailable."""
        ...

    def close(self) -> None: ...


class PriceSource(Protocol):
    def quote(self, product_id: int, index: int) -> PriceQuote:
        """Current price and sale flag; raise ProductNotFound(product_id, index) or DependencyUnavailable."""
        ...

    def close(self) -> None: ...


class Inventory(Protocol):
    """Stock operations. Every write that may be retried carries a `reference` (an idempotency key) or acts
    on a reservation id, so repeating it after a lost answer never moves stock twice."""

    def reserve(self, product_id: int, quantity: int, index: int, reference: str) -> Reservation:
        """Reserve stock in one warehouse. Raise InsufficientStock, DependencyUnavailable (nothing reserved)
        or ReservationUncertain (sent, answer lost: look it up by `reference`)."""
        ...

    def find(self, reference: str) -> Reservation | None:
        """Read-only: the reservation a reference created, or None. Raise DependencyUnavailable."""
        ...

    def release(self, reservation_id: int) -> None:
        """Release a reservation; idempotent (already released counts as done). Raise DependencyUnavailable."""
        ...

    def consume(self, reservation_id: int) -> None:
        """Shipping: the reserved units leave stock; idempotent (already consumed counts as done).
        Raise StockRefused (e.g. released) or DependencyUnavailable."""
        ...

    def release_untracked(self, product_id: int, warehouse: str, quantity: int, reference: str) -> None:
        """Release units reserved before migration without a reservation id; idempotent by `reference`."""
        ...

    def consume_untracked(self, product_id: int, warehouse: str, quantity: int, reference: str) -> None:
        """Ship units reserved before migration without a reservation id; idempotent by `reference`."""
        ...

    def warehouse_with(self, product_id: int, quantity: int, index: int) -> str:
        """Read-only: the warehouse a reservation would come from, for dry runs. Raise InsufficientStock."""
        ...

    def close(self) -> None: ...
