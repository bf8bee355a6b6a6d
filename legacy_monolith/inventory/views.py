"""Inventory endpoints: stock per warehouse, availability of many products at once, and adjustments
(reservations: see reservations.py).

GET /api/inventory/availability?ids=1,2,3 was added for the catalog service, which reads availability over
this API: one bounded call per answer instead of one call per product.

Every change to STOCK is a conditional UPDATE checked by rowcount, so concurrent requests can never drive
availability below zero (the CHECK constraint on STOCK is the last line of defence).
"""
from __future__ import annotations

import logging

from flask import Blueprint
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from legacy_monolith.db import rowcount
from legacy_monolith.inventory.models import Stock, Warehouse
from legacy_monolith.inventory.schemas import Adjustment, AvailabilityQuery, availability_json, inventory_json
from legacy_monolith.web import LegacyError, db, not_found, parse_body, parse_query, transactional

bp = Blueprint("inventory", __name__, url_prefix="/api/inventory")
log = logging.getLogger("legacy_monolith.inventory")


def stock_rows(product_id: int) -> list[Stock]:
    return list(db().scalars(select(Stock).where(Stock.product_id == product_id).order_by(Stock.warehouse)))


def check_warehouse(code: str) -> None:
    if db().get(Warehouse, code) is None:
        known = ", ".join(db().scalars(select(Warehouse.code).order_by(Warehouse.code)))
        raise LegacyError(422, "WAREHOUSE_NOT_FOUND", f"warehouse {code} does not exist; known: {known}")


def _view(product_id: int) -> dict:
    rows = stock_rows(product_id)
    if not rows:
        raise not_found("STOCK_NOT_FOUND", "stock for product", product_id)
    return inventory_json(product_id, rows)


def _insufficient(product_id: int, quantity: int) -> LegacyError:
    return LegacyError(409, "INSUFFICIENT_STOCK",
                       f"product {product_id}: fewer than {quantity} unit(s) available")


@bp.get("/availability")
def get_availability():
    ids = parse_query(AvailabilityQuery).ids
    totals = db().execute(select(Stock.product_id, func.sum(Stock.on_hand - Stock.reserved))
                          .where(Stock.product_id.in_(ids)).group_by(Stock.product_id))
    return availability_json({int(pid): int(total or 0) for pid, total in totals}, ids)


@bp.get("/<id:product_id>")
def get_inventory(product_id: int):
    return _view(product_id)


@bp.post("/<id:product_id>/adjust")
@transactional
def adjust(product_id: int):
    body = parse_body(Adjustment)
    if body.Delta == 0:
        raise LegacyError(400, "VALIDATION_ERROR", "Delta: must not be 0")
    check_warehouse(body.Warehouse)
    session = db()
    changed = rowcount(session.execute(
        update(Stock).where(Stock.product_id == product_id, Stock.warehouse == body.Warehouse,
                            Stock.on_hand + body.Delta >= Stock.reserved)
        .values(on_hand=Stock.on_hand + body.Delta).execution_options(synchronize_session=False)))
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


# The reservation endpoints live in their own module; importing it registers them on this blueprint.
from legacy_monolith.inventory import reservations as _reservations  # noqa: E402, F401 - after the blueprint it adds to
