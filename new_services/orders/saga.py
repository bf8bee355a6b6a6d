"""Orchestrated sagas across the seam: placing, cancelling and shipping orders whose stock lives in the monolith.

Place order (orchestration, one coordinator, compensations in reverse):
  a. the customer must exist          (customers, read — retried by the adapter)
  b. every product must be for sale   (prices, read — retried)
  c. reserve stock per line           (inventory, write — sent once, with an idempotency reference per
                                       (placement attempt, line); compensation: release)
  d. store the order locally          (one local transaction; id from the service's own range)
Any failure after (c) started releases every reservation already made; a reserve whose answer was lost is
looked up by its reference and released too. What cannot be undone now goes to an outbox (outbox.py) that
later sagas deliver first, so a compensation is never lost. A dry run (verified shadow copy) makes no call
with side effects: stock is only checked read-only, and the local transaction is rolled back by the session.

Cancel: status change and the releases owed go into ONE local transaction (transactional outbox), then they
are delivered; orders placed before migration (no reservation id) release by reference, idempotently.

Ship (paid → shipped) consumes every line's stock first, one line at a time, recording each success locally.
There is no "un-consume", so the policy is forward recovery: if a line fails, the order stays paid, the
answer names what was consumed, and a retry consumes only the remaining lines (consume is idempotent).
An order with consumed lines cannot be cancelled.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from new_services.common.db import Database
from new_services.orders.domain import (
    DependencyUnavailable,
    InvalidTransition,
    Order,
    OrderLine,
    OrderNotFound,
    OrderNotStored,
    OrderStatus,
    PartiallyShipped,
    ProductInactive,
    ReservationUncertain,
    ShipmentIncomplete,
    StockRefused,
)
from new_services.orders.faults import DB_INSERT, NO_FAULTS, Faults
from new_services.orders.outbox import RELEASE_UNTRACKED, StockOutbox, owed_op
from new_services.orders.ports import (
    CustomerDirectory,
    Inventory,
    PriceSource,
    Reservation,
)
from new_services.orders.repository import OrderRepository

log = logging.getLogger("new_services.orders.saga")
DEFAULT_ID_START = 10_000_000


def reserve_reference(attempt: str, line_no: int) -> str:
    """Idempotency key of one line's reservation in one placement attempt (<= 64 characters)."""
    return f"ord-{attempt}-{line_no}"


def stock_reference(order_id: int, line_no: int, action: str) -> str:
    """Idempotency key of releasing ('release') or shipping ('ship') an untracked line's stock."""
    return f"ord-{order_id}-{line_no}-{action}"


@dataclass(frozen=True, slots=True)
class LineRequest:
    product_id: int
    quantity: int


@dataclass(frozen=True, slots=True)
class Collaborators:
    customers: CustomerDirectory
    prices: PriceSource
    inventory: Inventory

    def close(self) -> None:
        for part in (self.customers, self.prices, self.inventory):
            part.close()


class OrderSaga:
    """One instance per request: knows whether it is a dry run and which faults a test armed."""

    def __init__(self, parts: Collaborators, database: Database, *, dry_run: bool = False,
                 faults: Faults = NO_FAULTS, id_start: int = DEFAULT_ID_START,
                 uncertain_window_s: float = 300.0) -> None:
        self.parts = parts
        self.database = database
        self.dry_run = dry_run
        self.faults = faults
        self.id_start = id_start
        self.outbox = StockOutbox(parts.inventory, database, dry_run=dry_run, uncertain_window_s=uncertain_window_s)

    # --- place ------------------------------------------------------------------------------------------
    def place(self, session: Session, customer_id: int, lines: Sequence[LineRequest]) -> Order:
        self.drain_outbox()
        self.parts.customers.ensure_exists(customer_id)                      # (a)
        quotes = [self.parts.prices.quote(line.product_id, index) for index, line in enumerate(lines)]  # (b)
        for index, quote in enumerate(quotes):
            if not quote.active:
                raise ProductInactive(quote.product_id, index)
        attempt = uuid.uuid4().hex
        reserved: list[Reservation] = []
        uncertain: list[str] = []
        try:
            warehouses: dict[int, tuple[str, int | None]] = {}
            # product order, as the monolith does, so concurrent multi-line orders contend in one order
            for index in sorted(range(len(lines)), key=lambda i: lines[i].product_id):     # (c)
                line = lines[index]
                if self.dry_run:
                    warehouses[index] = (self.parts.inventory.warehouse_with(line.product_id, line.quantity,
                                                                             index), None)
                    continue
                try:
                    reservation = self.parts.inventory.reserve(line.product_id, line.quantity, index,
                                                               reserve_reference(attempt, index + 1))
                except ReservationUncertain as exc:
                    uncertain.append(exc.reference)
                    raise
                reserved.append(reservation)
                warehouses[index] = (reservation.warehouse, reservation.id)
            order = Order.place(customer_id=customer_id, lines=tuple(
                OrderLine(line_no=index + 1, product_id=line.product_id, warehouse=warehouses[index][0],
                          quantity=line.quantity, unit_price=quotes[index].unit_price,
                          reservation_id=warehouses[index][1])
                for index, line in enumerate(lines)))
            return self._store(session, order)                                               # (d)
        except BaseException as exc:
            if reserved or uncertain:
                self.outbox.compensate([r.id for r in reserved], uncertain,
                                       reason=f"order placement failed: {type(exc).__name__}")
            raise

    def _store(self, session: Session, order: Order) -> Order:
        try:
            stored = OrderRepository(session).add(order, id_start=self.id_start)
            self.faults.check(DB_INSERT)
            session.commit()
            return stored
        except SQLAlchemyError as exc:
            session.rollback()
            log.error("storing order for customer %s failed: %s", order.customer_id, exc)
            raise OrderNotStored("the order could not be stored; its stock reservations were released") from exc

    # --- cancel -----------------------------------------------------------------------------------------
    def cancel(self, session: Session, order_id: int) -> Order:
        repo = OrderRepository(session)
        order = load(repo, order_id)
        cancelled = order.cancel()
        consumed = repo.consumed_lines(order_id)
        if consumed:
            raise PartiallyShipped(order_id, sorted(consumed))
        save_status(repo, order, cancelled)
        untracked = [owed_op(stock_reference(order_id, ln.line_no, "release"), RELEASE_UNTRACKED,
                             "order cancelled", order_id=order_id, product_id=ln.product_id,
                             warehouse=ln.warehouse, quantity=ln.quantity)
                     for ln in order.lines if ln.reservation_id is None]
        references = [op.reference for op in untracked]
        repo.owe_releases(order.reservation_ids, order_id=order_id, reason="order cancelled")
        repo.owe_ops(untracked)
        session.commit()
        if not self.dry_run:
            self.outbox.deliver(order.reservation_ids)
            if references:
                self.outbox.deliver_ops(references)
        return cancelled

    # --- status changes (shipping consumes stock) ---------------------------------------------------------
    def transition(self, session: Session, order_id: int, target: OrderStatus) -> Order:
        repo = OrderRepository(session)
        order = load(repo, order_id)
        changed = order.advance_to(target)
        if target is OrderStatus.SHIPPED and not self.dry_run:
            self._consume_stock(session, repo, order)
        save_status(repo, order, changed)
        session.commit()
        return changed

    def _consume_stock(self, session: Session, repo: OrderRepository, order: Order) -> None:
        """Consume each line's stock once; each success is committed locally before the next line."""
        assert order.id is not None
        done = repo.consumed_lines(order.id)
        session.commit()  # end the read transaction: the per-line commits below must not meet a stale one
        for line in order.lines:
            if line.line_no in done:
                continue
            try:
                if line.reservation_id is not None:
                    self.parts.inventory.consume(line.reservation_id)
                else:
                    self.parts.inventory.consume_untracked(line.product_id, line.warehouse, line.quantity,
                                                           stock_reference(order.id, line.line_no, "ship"))
            except (DependencyUnavailable, StockRefused) as exc:
                log.warning("shipping order %s stopped at line %s: %s", order.id, line.line_no, exc)
                raise ShipmentIncomplete(order.id, sorted(done), line.line_no, exc) from None
            repo.record_consumed(order.id, line.line_no)
            session.commit()
            done.add(line.line_no)

    # --- the outboxes ---------------------------------------------------------------------------------------
    def drain_outbox(self) -> int:
        """Deliver what earlier sagas still owe (bounded batch); never fails the caller."""
        return self.outbox.drain()


def load(repo: OrderRepository, order_id: int) -> Order:
    order = repo.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return order


def save_status(repo: OrderRepository, before: Order, after: Order) -> None:
    """Compare-and-set on the status, so two concurrent transitions cannot both win."""
    if not repo.save_status(after, expected=before.status):
        current = repo.get(after.id or 0)
        raise InvalidTransition(after.id, current.status if current else before.status, after.status)
