"""Reservation endpoints: reserve, look up, release, consume — and the "untracked" release/consume for
stock the legacy orders module reserved straight in STOCK.QTY_RSRVD, with no reservation row.

Idempotency: a caller that may retry sends a "Reference" (its idempotency key). STOCK_RSV.RSV_REF is
unique, so one Reference is acted on at most once: a replay answers 200 with the row it created (201 the
first time), and a replay that asks for something else is refused (409 REFERENCE_CONFLICT). Untracked
operations store their Reference in a STOCK_RSV row with status R (released) or C (consumed), which is also
their audit trail. A caller whose answer was lost finds the row with GET /api/inventory/reservations?reference=.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from legacy_monolith.conventions import legacy_now, page_payload
from legacy_monolith.db import rowcount
from legacy_monolith.inventory.models import RESERVATION_STATUSES, Reservation, Stock
from legacy_monolith.inventory.schemas import (
    ReservationCreate,
    ReservationQuery,
    UntrackedStockMove,
    reservation_json,
)
from legacy_monolith.inventory.views import (
    _insufficient,
    bp,
    check_warehouse,
    stock_rows,
)
from legacy_monolith.web import (
    LegacyError,
    db,
    not_found,
    parse_body,
    parse_query,
    transactional,
    zone,
)

Answer = tuple[dict[str, Any], int]


def _by_reference(reference: str) -> Reservation | None:
    return db().scalar(select(Reservation).where(Reservation.reference == reference))


def _replay(reference: str, product_id: int, quantity: int, warehouse: str | None,
            statuses: tuple[str, ...]) -> Answer:
    """The answer to a repeated Reference: the row it created, if the request is the same one."""
    rsv = _by_reference(reference)
    if rsv is None:  # only after a unique violation whose winner then vanished: cannot happen, but be clear
        raise LegacyError(409, "REFERENCE_CONFLICT", f"Reference {reference} is in use by another request; retry")
    same = (rsv.product_id == product_id and rsv.quantity == quantity and rsv.status in statuses
            and (warehouse is None or rsv.warehouse == warehouse))
    if not same:
        raise LegacyError(409, "REFERENCE_CONFLICT",
                          f"Reference {reference} already belongs to reservation {rsv.id} (product {rsv.product_id}"
                          f", {rsv.warehouse}, quantity {rsv.quantity}, status {rsv.status}); send a new Reference "
                          "for a different request")
    return reservation_json(rsv), 200


def _not_active(rsv: Reservation) -> LegacyError:
    if rsv.status == "C":
        return LegacyError(409, "RESERVATION_CONSUMED", f"reservation {rsv.id} was already consumed (shipped)")
    return LegacyError(409, "RESERVATION_NOT_ACTIVE", f"reservation {rsv.id} is already released")


def _load(reservation_id: int) -> Reservation:
    rsv = db().get(Reservation, reservation_id)
    if rsv is None:
        raise not_found("RESERVATION_NOT_FOUND", "reservation", reservation_id)
    return rsv


def _new_row(product_id: int, warehouse: str, quantity: int, status: str, reference: str | None) -> Reservation:
    rsv = Reservation(product_id=product_id, warehouse=warehouse, quantity=quantity, status=status,
                      created=legacy_now(zone()), reference=reference)
    db().add(rsv)
    db().flush()  # a Reference taken meanwhile by a concurrent request fails here (unique RSV_REF)
    return rsv


@bp.get("/reservations")
def list_reservations():
    query = parse_query(ReservationQuery)
    conditions = []
    if query.reference is not None:
        conditions.append(Reservation.reference == query.reference)
    if query.product_id is not None:
        conditions.append(Reservation.product_id == query.product_id)
    if query.status is not None:
        conditions.append(Reservation.status == query.status)
    session = db()
    total = session.scalar(select(func.count()).select_from(Reservation).where(*conditions)) or 0
    rows = session.scalars(select(Reservation).where(*conditions).order_by(Reservation.id)
                           .limit(query.page_size).offset(query.offset)).all()
    return page_payload("Reservations", [reservation_json(r) for r in rows], query.page, query.page_size, total,
                        zone())


@bp.post("/reservations")
@transactional
def reserve():
    body = parse_body(ReservationCreate)
    session = db()
    ref = body.Reference
    if ref is not None and _by_reference(ref) is not None:
        return _replay(ref, body.ProductId, body.Quantity, body.Warehouse, RESERVATION_STATUSES)
    if body.Warehouse is not None:
        check_warehouse(body.Warehouse)
        candidates = [body.Warehouse]
    else:
        candidates = [r.warehouse for r in stock_rows(body.ProductId) if r.on_hand - r.reserved >= body.Quantity]
    for warehouse in candidates:
        try:
            with session.begin_nested():
                reserved = session.execute(
                    update(Stock).where(Stock.product_id == body.ProductId, Stock.warehouse == warehouse,
                                        Stock.on_hand - Stock.reserved >= body.Quantity)
                    .values(reserved=Stock.reserved + body.Quantity).execution_options(synchronize_session=False))
                rsv = None if rowcount(reserved) != 1 else \
                    _new_row(body.ProductId, warehouse, body.Quantity, "A", ref)
        except IntegrityError:  # a concurrent request with the same Reference committed first
            assert ref is not None
            return _replay(ref, body.ProductId, body.Quantity, body.Warehouse, RESERVATION_STATUSES)
        if rsv is not None:
            return reservation_json(rsv), 201
    raise _insufficient(body.ProductId, body.Quantity)


@bp.post("/reservations/<id:reservation_id>/release")
@transactional
def release(reservation_id: int):
    session = db()
    rsv = _load(reservation_id)
    released = rowcount(session.execute(
        update(Reservation).where(Reservation.id == reservation_id, Reservation.status == "A")
        .values(status="R").execution_options(synchronize_session=False)))
    if released == 0:
        session.refresh(rsv)
        raise _not_active(rsv)
    session.execute(update(Stock).where(Stock.product_id == rsv.product_id, Stock.warehouse == rsv.warehouse)
                    .values(reserved=Stock.reserved - rsv.quantity).execution_options(synchronize_session=False))
    session.refresh(rsv)
    return reservation_json(rsv)


@bp.post("/reservations/<id:reservation_id>/consume")
@transactional
def consume(reservation_id: int):
    """Shipping: the reserved units leave the warehouse (on-hand and reserved both go down). Only from A."""
    session = db()
    rsv = _load(reservation_id)
    taken = rowcount(session.execute(
        update(Reservation).where(Reservation.id == reservation_id, Reservation.status == "A")
        .values(status="C").execution_options(synchronize_session=False)))
    if taken == 0:
        session.refresh(rsv)
        raise _not_active(rsv)
    moved = rowcount(session.execute(
        update(Stock).where(Stock.product_id == rsv.product_id, Stock.warehouse == rsv.warehouse,
                            Stock.reserved >= rsv.quantity)
        .values(on_hand=Stock.on_hand - rsv.quantity, reserved=Stock.reserved - rsv.quantity)
        .execution_options(synchronize_session=False)))
    if moved == 0:
        raise LegacyError(409, "STOCK_INCONSISTENT", f"reserved stock for product {rsv.product_id} in "
                          f"{rsv.warehouse} is lower than reservation {rsv.id}; fix STOCK before consuming")
    session.refresh(rsv)
    return reservation_json(rsv)


def _untracked(product_id: int, status: str) -> Answer:
    """Release (status R) or consume (status C) units reserved without a reservation row, at most once per
    Reference. Never touches units that active reservations hold: only QTY_RSRVD minus their sum is eligible."""
    body = parse_body(UntrackedStockMove)
    session = db()
    if _by_reference(body.Reference) is not None:
        return _replay(body.Reference, product_id, body.Quantity, body.Warehouse, (status,))
    check_warehouse(body.Warehouse)
    held_by_rows = (select(func.coalesce(func.sum(Reservation.quantity), 0))
                    .where(Reservation.product_id == product_id, Reservation.warehouse == body.Warehouse,
                           Reservation.status == "A").scalar_subquery())
    values: dict[str, Any] = {"reserved": Stock.reserved - body.Quantity}
    if status == "C":
        values["on_hand"] = Stock.on_hand - body.Quantity
    try:
        with session.begin_nested():
            moved = rowcount(session.execute(
                update(Stock).where(Stock.product_id == product_id, Stock.warehouse == body.Warehouse,
                                    Stock.reserved - body.Quantity >= held_by_rows)
                .values(**values).execution_options(synchronize_session=False)))
            rsv = None if moved != 1 else _new_row(product_id, body.Warehouse, body.Quantity, status,
                                                   body.Reference)
    except IntegrityError:
        return _replay(body.Reference, product_id, body.Quantity, body.Warehouse, (status,))
    if rsv is None:
        stock = session.get(Stock, (product_id, body.Warehouse))
        if stock is None:
            raise not_found("STOCK_NOT_FOUND", f"stock in {body.Warehouse} for product", product_id)
        untracked = stock.reserved - (session.scalar(select(held_by_rows)) or 0)
        verb = "consume" if status == "C" else "release"
        raise LegacyError(409, "INSUFFICIENT_RESERVED",
                          f"product {product_id} in {body.Warehouse}: only {untracked} unit(s) are reserved without "
                          f"a reservation record, cannot {verb} {body.Quantity}")
    return reservation_json(rsv), 201


@bp.post("/<id:product_id>/release")
@transactional
def release_untracked(product_id: int):
    return _untracked(product_id, "R")


@bp.post("/<id:product_id>/consume-untracked")
@transactional
def consume_untracked(product_id: int):
    return _untracked(product_id, "C")
