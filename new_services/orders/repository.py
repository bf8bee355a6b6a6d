"""Order persistence: domain Order ↔ `orders` + `order_lines` rows, and the pending-release outbox.
The only place that knows the table layout."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from new_services.common.id_range import allocate_id, ensure_counter
from new_services.orders.domain import CENT, Order, OrderLine, OrderStatus, utcnow
from new_services.orders.models import (
    ConsumedLine,
    OrderIdCounter,
    OrderLineRecord,
    OrderRecord,
    OwedStockOp,
    PendingRelease,
)

COUNTER = "orders"
_ORDERS = OrderRecord.__table__
_LINES = OrderLineRecord.__table__
_ORDER_COLUMNS = (_ORDERS.c.id, _ORDERS.c.customer_id, _ORDERS.c.status, _ORDERS.c.placed_at)
_LINE_COLUMNS = (_LINES.c.line_no, _LINES.c.product_id, _LINES.c.warehouse, _LINES.c.quantity,
                 _LINES.c.unit_price_minor, _LINES.c.reservation_id)


def to_minor(amount: Decimal) -> int:
    return int((amount.quantize(CENT) * 100).to_integral_value())


def from_minor(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(CENT)


def order_values(order: Order) -> dict[str, Any]:
    """`orders` column values (used by the repository and by data-migration mappings)."""
    values: dict[str, Any] = {"customer_id": order.customer_id, "status": order.status,
                              "placed_at": order.placed_at, "total_minor": to_minor(order.total),
                              "currency": "GBP"}
    if order.id is not None:
        values["id"] = order.id
    return values


def line_values(order_id: int, line: OrderLine) -> dict[str, Any]:
    return {"order_id": order_id, "line_no": line.line_no, "product_id": line.product_id,
            "warehouse": line.warehouse, "quantity": line.quantity,
            "unit_price_minor": to_minor(line.unit_price), "reservation_id": line.reservation_id}


@dataclass(frozen=True, slots=True)
class OrderFilter:
    customer_id: int | None = None
    status: OrderStatus | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """On the table's columns (not the mapped attributes), so a read statement stays plain Core."""
        found: list[ColumnElement[bool]] = []
        if self.customer_id is not None:
            found.append(_ORDERS.c.customer_id == self.customer_id)
        if self.status is not None:
            found.append(_ORDERS.c.status == self.status)
        return found


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- orders -------------------------------------------------------------------------------------------
    def get(self, order_id: int) -> Order | None:
        found = self._with_lines(select(*_ORDER_COLUMNS).where(_ORDERS.c.id == order_id))
        return found[0] if found else None

    def allocate_id(self, start: int) -> int:
        """The next id from the service's own range (>= start); see new_services.common.id_range."""
        return allocate_id(self.session, OrderIdCounter, COUNTER, OrderRecord.id, start)

    def add(self, order: Order, *, id_start: int | None = None) -> Order:
        """Store a new order; with id_start, its id comes from the service's range (see allocate_id)."""
        if order.id is None and id_start is not None:
            order = order.stored_as(self.allocate_id(id_start))
        record = OrderRecord(**order_values(order))
        self.session.add(record)
        self.session.flush()
        for line in order.lines:
            self.session.add(OrderLineRecord(**line_values(record.id, line)))
        self.session.flush()
        return order.stored_as(record.id)

    def save_status(self, order: Order, *, expected: OrderStatus) -> bool:
        """Set the status only if it is still `expected`; False when another writer got there first."""
        changed = cast(CursorResult[Any], self.session.execute(
            update(OrderRecord).where(OrderRecord.id == order.id, OrderRecord.status == expected)
            .values(status=order.status))).rowcount
        return changed == 1

    def count(self, criteria: OrderFilter) -> int:
        query = select(func.count()).select_from(_ORDERS).where(*criteria.conditions())
        return self.session.connection().execute(query).scalar() or 0

    def count_and_page(self, criteria: OrderFilter, offset: int, limit: int) -> tuple[int, list[Order]]:
        """A page and the total it is a page of. The count query runs only when the page cannot tell: a page
        that is not full (and not empty past the end) ends the list, so total = offset + its length."""
        orders = self.page_by_offset(criteria, offset, limit)
        if len(orders) < limit and (orders or offset == 0):
            return offset + len(orders), orders
        return self.count(criteria), orders

    def page_by_offset(self, criteria: OrderFilter, offset: int, limit: int) -> list[Order]:
        return self._with_lines(select(*_ORDER_COLUMNS).where(*criteria.conditions()).order_by(_ORDERS.c.id)
                                .offset(offset).limit(limit))

    def page_after(self, criteria: OrderFilter, after_id: int | None, limit: int) -> list[Order]:
        """Keyset page: stable under concurrent inserts, cost independent of depth."""
        conditions = criteria.conditions()
        if after_id is not None:
            conditions.append(_ORDERS.c.id > after_id)
        return self._with_lines(select(*_ORDER_COLUMNS).where(*conditions).order_by(_ORDERS.c.id).limit(limit))

    def _with_lines(self, page: Select[Any]) -> list[Order]:
        """The orders `page` selects (ordered by id) with their lines, in ONE statement (the page as a subquery,
        its lines joined) on the session's connection: plain rows, no ORM instances. Reads are most of the
        service's traffic; through the ORM (three queries, an instance per order and per line) a list of 20
        orders cost more CPU than the monolith's whole answer (issue 21)."""
        sub = page.subquery("page")
        query = (select(sub, *_LINE_COLUMNS).select_from(sub.outerjoin(_LINES, _LINES.c.order_id == sub.c.id))
                 .order_by(sub.c.id, _LINES.c.line_no))
        orders: dict[int, tuple[tuple[Any, ...], list[OrderLine]]] = {}
        for oid, customer, status, placed, line_no, product, warehouse, quantity, price, reservation in \
                self.session.connection().execute(query):
            entry = orders.get(oid)
            if entry is None:
                entry = orders[oid] = ((customer, status, placed), [])
            if line_no is not None:
                entry[1].append(OrderLine(line_no=line_no, product_id=product, warehouse=warehouse, quantity=quantity,
                                          unit_price=from_minor(price), reservation_id=reservation))
        return [Order(id=oid, customer_id=customer, status=OrderStatus(status), placed_at=placed, lines=tuple(lines))
                for oid, ((customer, status, placed), lines) in orders.items()]

    # --- outbox of releases owed to the inventory system --------------------------------------------------
    def owe_releases(self, reservation_ids: Sequence[int], *, order_id: int | None, reason: str) -> None:
        for reservation_id in reservation_ids:
            if self.session.get(PendingRelease, reservation_id) is None:
                self.session.add(PendingRelease(reservation_id=reservation_id, order_id=order_id, reason=reason,
                                                attempts=0, created_at=utcnow()))
        self.session.flush()

    def owed_releases(self, limit: int = 100) -> list[int]:
        query = select(PendingRelease.reservation_id).order_by(PendingRelease.created_at).limit(limit)
        return list(self.session.scalars(query))

    def release_done(self, reservation_id: int) -> None:
        self.session.execute(delete(PendingRelease).where(PendingRelease.reservation_id == reservation_id))

    def release_failed(self, reservation_id: int, error: str) -> None:
        self.session.execute(update(PendingRelease).where(PendingRelease.reservation_id == reservation_id)
                             .values(attempts=PendingRelease.attempts + 1, last_error=error[:500]))

    # --- outbox of reference-keyed stock operations ---------------------------------------------------------
    def owe_ops(self, ops: Sequence[OwedStockOp]) -> None:
        for op in ops:
            if self.session.get(OwedStockOp, op.reference) is None:
                self.session.add(op)
        self.session.flush()

    def owed_ops(self, limit: int = 100) -> list[OwedStockOp]:
        query = (select(OwedStockOp).where(OwedStockOp.refused_at.is_(None))
                 .order_by(OwedStockOp.created_at).limit(limit))
        return list(self.session.scalars(query))

    def op_done(self, reference: str) -> None:
        self.session.execute(delete(OwedStockOp).where(OwedStockOp.reference == reference))

    def op_failed(self, reference: str, error: str, *, refused: bool = False) -> None:
        values: dict[str, Any] = {"attempts": OwedStockOp.attempts + 1, "last_error": error[:500]}
        if refused:
            values["refused_at"] = utcnow()
        self.session.execute(update(OwedStockOp).where(OwedStockOp.reference == reference).values(**values))

    # --- shipping progress ----------------------------------------------------------------------------------
    def consumed_lines(self, order_id: int) -> set[int]:
        return set(self.session.scalars(select(ConsumedLine.line_no).where(ConsumedLine.order_id == order_id)))

    def record_consumed(self, order_id: int, line_no: int) -> None:
        """Idempotent: a concurrent shipment of the same order may have recorded it first."""
        if self.session.get(ConsumedLine, (order_id, line_no)) is not None:
            return
        try:
            with self.session.begin_nested():
                self.session.add(ConsumedLine(order_id=order_id, line_no=line_no, consumed_at=utcnow()))
        except IntegrityError:
            pass


def ensure_id_counter(session: Session, start: int) -> int:
    """At start-up: create the counter row (so concurrent first placements do not race to create it)."""
    return ensure_counter(session, OrderIdCounter, COUNTER, OrderRecord.id, start)
