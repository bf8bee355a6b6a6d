"""Orchestrated sagas across the seam: placing and cancelling orders whose stock lives in the monolith.

Place order (orchestration, one coordinator, compensations in reverse):
  a. the customer must exist          (customers, read — retried by the adapter)
  b. every product must be for sale   (prices, read — retried)
  c. reserve stock per line           (inventory, write — NOT retried; compensation: release)
  d. store the order locally          (one local transaction)
Any failure after (c) started releases every reservation already made. A release that cannot be delivered
now (inventory down) is written to the `pending_releases` outbox and retried before later sagas, so a
compensation is never lost. A dry run (verified shadow copy) makes no call with side effects: stock is only
checked read-only, and the local transaction is rolled back by the session.

Cancel: status change and the releases owed go into ONE local transaction (transactional outbox), then the
releases are delivered; whatever fails stays in the outbox.
"""
from __future__ import annotations

import logging
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
    ProductInactive,
    UntrackedReservation,
)
from new_services.orders.faults import DB_INSERT, NO_FAULTS, Faults
from new_services.orders.ports import (
    CustomerDirectory,
    Inventory,
    PriceSource,
    Reservation,
)
from new_services.orders.repository import OrderRepository

log = logging.getLogger("new_services.orders.saga")
DRAIN_BATCH = 50


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
                 faults: Faults = NO_FAULTS) -> None:
        self.parts = parts
        self.database = database
        self.dry_run = dry_run
        self.faults = faults

    # --- place ------------------------------------------------------------------------------------------
    def place(self, session: Session, customer_id: int, lines: Sequence[LineRequest]) -> Order:
        self.drain_outbox()
        self.parts.customers.ensure_exists(customer_id)                      # (a)
        quotes = [self.parts.prices.quote(line.product_id, index) for index, line in enumerate(lines)]  # (b)
        for index, quote in enumerate(quotes):
            if not quote.active:
                raise ProductInactive(quote.product_id, index)
        reserved: list[Reservation] = []
        try:
            warehouses: dict[int, tuple[str, int | None]] = {}
            # product order, as the monolith does, so concurrent multi-line orders contend in one order
            for index in sorted(range(len(lines)), key=lambda i: lines[i].product_id):     # (c)
                line = lines[index]
                if self.dry_run:
                    warehouses[index] = (self.parts.inventory.warehouse_with(line.product_id, line.quantity,
                                                                             index), None)
                    continue
                reservation = self.parts.inventory.reserve(line.product_id, line.quantity, index)
                reserved.append(reservation)
                warehouses[index] = (reservation.warehouse, reservation.id)
            order = Order.place(customer_id=customer_id, lines=tuple(
                OrderLine(line_no=index + 1, product_id=line.product_id, warehouse=warehouses[index][0],
                          quantity=line.quantity, unit_price=quotes[index].unit_price,
                          reservation_id=warehouses[index][1])
                for index, line in enumerate(lines)))
            return self._store(session, order)                                               # (d)
        except BaseException as exc:
            if reserved:
                self.compensate([r.id for r in reserved], reason=f"order placement failed: {type(exc).__name__}")
            raise

    def _store(self, session: Session, order: Order) -> Order:
        try:
            stored = OrderRepository(session).add(order)
            self.faults.check(DB_INSERT)
            session.commit()
            return stored
        except SQLAlchemyError as exc:
            session.rollback()
            log.error("storing order for customer %s failed: %s", order.customer_id, exc)
            raise OrderNotStored("the order could not be stored; its stock reservations were released") from exc

    # --- cancel / transition ----------------------------------------------------------------------------
    def cancel(self, session: Session, order_id: int) -> Order:
        repo = OrderRepository(session)
        order = load(repo, order_id)
        cancelled = order.cancel()
        if any(line.reservation_id is None for line in order.lines):
            raise UntrackedReservation(order_id)
        save_status(repo, order, cancelled)
        repo.owe_releases(order.reservation_ids, order_id=order_id, reason="order cancelled")
        session.commit()
        if not self.dry_run:
            self.deliver(order.reservation_ids)
        return cancelled

    @staticmethod
    def transition(session: Session, order_id: int, target: OrderStatus) -> Order:
        repo = OrderRepository(session)
        order = load(repo, order_id)
        changed = order.advance_to(target)
        save_status(repo, order, changed)
        session.commit()
        return changed

    # --- compensation and the outbox ----------------------------------------------------------------------
    def compensate(self, reservation_ids: Sequence[int], *, reason: str, order_id: int | None = None) -> None:
        """Release now; whatever cannot be released now is queued in the outbox (never dropped)."""
        owed = []
        for reservation_id in reservation_ids:
            try:
                self.parts.inventory.release(reservation_id)
            except Exception as exc:  # noqa: BLE001 - any failure means "still owed"
                log.warning("release of reservation %s failed (%s); queued for retry", reservation_id, exc)
                owed.append(reservation_id)
        if owed:
            try:
                with self.database.session() as outbox:
                    OrderRepository(outbox).owe_releases(owed, order_id=order_id, reason=reason)
                    outbox.commit()
            except SQLAlchemyError:
                log.critical("could not queue releases %s (%s): release them by hand", owed, reason)

    def deliver(self, reservation_ids: Sequence[int]) -> int:
        """Try to release owed reservations; returns how many are still owed."""
        if self.dry_run or not reservation_ids:
            return 0
        still_owed = 0
        with self.database.session() as outbox:
            repo = OrderRepository(outbox)
            for reservation_id in reservation_ids:
                try:
                    self.parts.inventory.release(reservation_id)
                    repo.release_done(reservation_id)
                except DependencyUnavailable as exc:
                    repo.release_failed(reservation_id, str(exc))
                    still_owed += 1
            outbox.commit()
        return still_owed

    def drain_outbox(self) -> int:
        """Deliver releases owed by earlier sagas (bounded batch); never fails the caller."""
        if self.dry_run:
            return 0
        try:
            with self.database.session() as session:
                owed = OrderRepository(session).owed_releases(DRAIN_BATCH)
            return self.deliver(owed)
        except SQLAlchemyError as exc:
            log.warning("draining the release outbox failed: %s", exc)
            return -1


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
