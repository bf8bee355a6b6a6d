"""Compensations and stock operations owed to the inventory system, delivered now or later — never dropped.

Two outboxes in the orders database:
- `pending_releases`: reservations (by id) to release — compensations of failed placements, cancels.
- `owed_stock_ops`: operations keyed by an idempotency reference — releases of stock reserved before
  migration (untracked), and reservations whose answer was lost (resolve: look the reference up, release
  what it reserved; if nothing turns up within ORDERS_UNCERTAIN_WINDOW_S, the request never arrived).
Every operation is idempotent on the inventory side, so delivering one twice is harmless. A dry run
delivers nothing (its outbox rows are rolled back with the rest of its transaction).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError

from new_services.common.db import Database
from new_services.orders.domain import DependencyUnavailable, StockRefused, utcnow
from new_services.orders.models import OwedStockOp
from new_services.orders.ports import Inventory
from new_services.orders.repository import OrderRepository

log = logging.getLogger("new_services.orders.outbox")
DRAIN_BATCH = 50
RELEASE_UNTRACKED = "release-untracked"
RESOLVE_RESERVATION = "resolve-reservation"


def owed_op(reference: str, kind: str, reason: str, *, order_id: int | None = None, product_id: int | None = None,
            warehouse: str | None = None, quantity: int | None = None) -> OwedStockOp:
    return OwedStockOp(reference=reference, kind=kind, reason=reason, order_id=order_id, product_id=product_id,
                       warehouse=warehouse, quantity=quantity, attempts=0, created_at=utcnow())


class StockOutbox:
    def __init__(self, inventory: Inventory, database: Database, *, dry_run: bool = False,
                 uncertain_window_s: float = 300.0) -> None:
        self.inventory = inventory
        self.database = database
        self.dry_run = dry_run
        self.window = timedelta(seconds=uncertain_window_s)

    # --- now, or queued ----------------------------------------------------------------------------------
    def compensate(self, reservation_ids: Sequence[int], uncertain: Sequence[str], *, reason: str) -> None:
        """Undo a failed placement: release what it reserved; look up references whose answer was lost and
        release what they reserved. Whatever cannot be settled now is queued (never dropped)."""
        owed_ids = [rid for rid in reservation_ids if not self._release(rid)]
        owed_refs = [owed_op(ref, RESOLVE_RESERVATION, reason) for ref in uncertain
                     if not self._resolve(ref, expired=False)]
        if not (owed_ids or owed_refs):
            return
        try:
            with self.database.session() as session:
                repo = OrderRepository(session)
                repo.owe_releases(owed_ids, order_id=None, reason=reason)
                repo.owe_ops(owed_refs)
                session.commit()
        except SQLAlchemyError:
            log.critical("could not queue releases %s / references %s (%s): release them by hand", owed_ids,
                         [op.reference for op in owed_refs], reason)

    def _release(self, reservation_id: int) -> bool:
        try:
            self.inventory.release(reservation_id)
            return True
        except StockRefused as exc:
            log.error("release of reservation %s refused (%s); nothing left to release", reservation_id, exc)
            return True
        except Exception as exc:  # noqa: BLE001 - any other failure means "still owed"
            log.warning("release of reservation %s failed (%s); queued for retry", reservation_id, exc)
            return False

    def _resolve(self, reference: str, *, expired: bool) -> bool:
        """True when settled: what the reference reserved is released, or it reserved nothing and the
        request can no longer arrive (`expired`)."""
        try:
            found = self.inventory.find(reference)
        except DependencyUnavailable as exc:
            log.warning("lookup of reservation reference %s failed (%s); queued for retry", reference, exc)
            return False
        if found is None:
            if expired:
                log.warning("reservation reference %s never turned up; the request never reached inventory",
                            reference)
            return expired
        return not found.active or self._release(found.id)

    # --- the outboxes --------------------------------------------------------------------------------------
    def deliver(self, reservation_ids: Sequence[int]) -> int:
        """Try to release owed reservations; returns how many are still owed."""
        if self.dry_run or not reservation_ids:
            return 0
        still_owed = 0
        with self.database.session() as outbox:
            repo = OrderRepository(outbox)
            for reservation_id in reservation_ids:
                try:
                    self.inventory.release(reservation_id)
                    repo.release_done(reservation_id)
                except StockRefused as exc:
                    log.error("owed release of reservation %s refused (%s); dropped", reservation_id, exc)
                    repo.release_done(reservation_id)
                except DependencyUnavailable as exc:
                    repo.release_failed(reservation_id, str(exc))
                    still_owed += 1
            outbox.commit()
        return still_owed

    def deliver_ops(self, references: Sequence[str] | None = None) -> int:
        """Deliver owed reference-keyed operations (these, or the oldest batch); returns how many remain."""
        if self.dry_run:
            return 0
        still_owed = 0
        with self.database.session() as outbox:
            repo = OrderRepository(outbox)
            if references is None:
                ops = repo.owed_ops(DRAIN_BATCH)
            else:
                ops = [op for ref in references if (op := outbox.get(OwedStockOp, ref)) and op.refused_at is None]
            for op in ops:
                try:
                    settled = self._deliver_op(op)
                except StockRefused as exc:
                    log.error("owed %s %s refused (%s); kept for an operator", op.kind, op.reference, exc)
                    repo.op_failed(op.reference, str(exc), refused=True)
                    continue
                if settled:
                    repo.op_done(op.reference)
                else:
                    repo.op_failed(op.reference, "not settled yet")
                    still_owed += 1
            outbox.commit()
        return still_owed

    def _deliver_op(self, op: OwedStockOp) -> bool:
        if op.kind == RESOLVE_RESERVATION:
            return self._resolve(op.reference, expired=utcnow() - op.created_at > self.window)
        assert op.product_id is not None and op.warehouse is not None and op.quantity is not None
        try:
            self.inventory.release_untracked(op.product_id, op.warehouse, op.quantity, op.reference)
            return True
        except DependencyUnavailable as exc:
            log.warning("untracked release %s failed (%s); kept for retry", op.reference, exc)
            return False

    def drain(self) -> int:
        """Deliver what earlier sagas still owe (bounded batches); never fails the caller."""
        if self.dry_run:
            return 0
        try:
            with self.database.session() as session:
                owed = OrderRepository(session).owed_releases(DRAIN_BATCH)
            return self.deliver(owed) + self.deliver_ops()
        except SQLAlchemyError as exc:
            log.warning("draining the outboxes failed: %s", exc)
            return -1
