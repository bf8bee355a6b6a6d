"""Inventory endpoints: stock per warehouse, adjustments and explicit reservations.

Every change to STOCK is a conditional UPDATE checked by rowcount, so concurrent requests can never drive
availability below zero (the CHECK constraint on STOCK is the last line of defence).
"""
from __future__ import annotations

import logging

from flask import Blueprint
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from legacy_monolith.conventions import legacy_now
from legacy_monolith.inventory.models import Reservation, Stock, Warehouse
from legacy_monolith.inventory.schemas import (Adjustment, ReservationCreate, inventory_json,
                                               reservation_json)
from legacy_monolith.web import LegacyError, db, not_found, parse_body, transactional, zone

bp = Blueprint("inventory", __name__, url_prefix="/api/inventory")
log = logging.getLogger("legacy_monolith.inventory")


def _stock_rows(product_id: int) -> list[Stock]:
    return list(db().scalars(select(Stock).where(Stock.product_id == product_id).order_by(Stock.warehouse)))


def _check_warehouse(code: str) -> None:
    if db().get(Warehouse, code) is None:
        known = ", ".join(db().scalars(select(Warehouse.code).order_by(Warehouse.code)))
        raise LegacyError(422, "WAREHOUSE_NOT_FOUND", f"warehouse {code} does not exist; known: {known}")


def _view(product_id: int) -> dict:
    rows = _stock_rows(product_id)
    if not rows:
        raise not_found("STOCK_NOT_FOUND", "stock for product", product_id)
    return inventory_json(product_id, rows)


def _insufficient(product_id: int, quantity: int) -> LegacyError:
    return LegacyError(409, "INSUFFICIENT_STOCK",
                       f"product {product_id}: fewer than {quantity} unit(s) available")


@bp.get("/<int:product_id>")
def get_inventory(product_id: int):  # type: ignore[no-untyped-def]
    return _view(product_id)


@bp.post("/<int:product_id>/adjust")
@transactional
def adjust(product_id: int):  # type: ignore[no-untyped-def]
    body = parse_body(Adjustment)
    if body.Delta == 0:
        raise LegacyError(400, "VALIDATION_ERROR", "Delta: must not be 0")
    _check_warehouse(body.Warehouse)
    session = db()
    changed = session.execute(
        update(Stock).where(Stock.product_id == product_id, Stock.warehouse == body.Warehouse,
                            Stock.on_hand + body.Delta >= Stock.reserved)
        .values(on_hand=Stock.on_hand + body.Delta).execution_options(synchronize_session=False)).rowcount
    if changed == 0:
        exists = session.get(Stock, (product_id, body.Warehouse)) is not None
        if exists or body.Delta < 0:
            raise LegacyError(409, "INSUFFICIENT_STOCK",
                              f"adjusting by {body.Delta} would take product {product_id} in {body.Warehouse} "
                              "below its reserved quantity")
        session.add(Stock(product_id=product_id, warehouse=body.Warehouse, on_hand=body.Delta, reserved=0))
        try:
            session.flush()  # the PRODUCTS foreign key rejects unknown products
        except IntegrityError:
            raise not_found("PRODUCT_NOT_FOUND", "product", product_id) from None
    log.info("stock adjusted: product=%s wh=%s delta=%s reason=%r", product_id, body.Warehouse, body.Delta,
             body.Reason)
    session.expire_all()
    return _view(product_id)


@bp.post("/reservations")
@transactional
def reserve():  # type: ignore[no-untyped-def]
    body = parse_body(ReservationCreate)
    session = db()
    if body.Warehouse is not None:
        _check_warehouse(body.Warehouse)
        candidates = [body.Warehouse]
    else:
        candidates = [r.warehouse for r in _stock_rows(body.ProductId) if r.on_hand - r.reserved >= body.Quantity]
    for warehouse in candidates:
        reserved = session.execute(
            update(Stock).where(Stock.product_id == body.ProductId, Stock.warehouse == warehouse,
                                Stock.on_hand - Stock.reserved >= body.Quantity)
            .values(reserved=Stock.reserved + body.Quantity).execution_options(synchronize_session=False))
        if reserved.rowcount == 1:
            rsv = Reservation(product_id=body.ProductId, warehouse=warehouse, quantity=body.Quantity,
                              status="A", created=legacy_now(zone()))
            session.add(rsv)
            session.flush()
            return reservation_json(rsv), 201
    raise _insufficient(body.ProductId, body.Quantity)


@bp.post("/reservations/<int:reservation_id>/release")
@transactional
def release(reservation_id: int):  # type: ignore[no-untyped-def]
    session = db()
    rsv = session.get(Reservation, reservation_id)
    if rsv is None:
        raise not_found("RESERVATION_NOT_FOUND", "reservation", reservation_id)
    released = session.execute(
        update(Reservation).where(Reservation.id == reservation_id, Reservation.status == "A")
        .values(status="R").execution_options(synchronize_session=False)).rowcount
    if released == 0:
        raise LegacyError(409, "RESERVATION_NOT_ACTIVE", f"reservation {reservation_id} is already released")
    session.execute(update(Stock).where(Stock.product_id == rsv.product_id, Stock.warehouse == rsv.warehouse)
                    .values(reserved=Stock.reserved - rsv.quantity).execution_options(synchronize_session=False))
    session.refresh(rsv)
    return reservation_json(rsv)
