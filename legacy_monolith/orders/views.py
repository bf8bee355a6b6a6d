"""Order endpoints. Placing an order is ONE transaction: read prices from PRODUCTS, reserve stock in
STOCK with conditional UPDATEs, insert ORDERS/ORD_LINES — all or nothing (see coupling.py).
An unknown customer is caught by the ORDERS.CUST_ID foreign key, not by reading CUSTOMERS.

Every orders endpoint needs a logged-in customer (401 LOGIN_REQUIRED otherwise). An order is placed for the
logged-in customer only: a body CustomerId naming someone else is 403 NOT_YOUR_CUSTOMER_ID. Reads, cancels and
status changes are NOT scoped to the customer — the legacy app never checked whose order it was (staff and
customers use the same API); the orders service keeps exactly that, so parity holds (docs/identity.md).
"""
from __future__ import annotations

from decimal import Decimal

from flask import Blueprint
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from legacy_monolith.conventions import legacy_now, page_payload
from legacy_monolith.customers.auth import current_customer_id, login_required
from legacy_monolith.orders import coupling, rules
from legacy_monolith.orders.models import Order, OrderLine
from legacy_monolith.orders.schemas import OrderCreate, OrderQuery, StatusChange, order_json
from legacy_monolith.web import LegacyError, db, not_found, parse_body, parse_query, transactional, zone

bp = Blueprint("orders", __name__, url_prefix="/api/orders")
bp.before_request(login_required(lambda: None))  # every route, before its body or id is looked at


def _load(order_id: int) -> Order:
    order = db().get(Order, order_id)
    if order is None:
        raise not_found("ORDER_NOT_FOUND", "order", order_id)
    return order


@bp.get("")
def list_orders():
    query = parse_query(OrderQuery)
    conditions = []
    if query.customer_id is not None:
        conditions.append(Order.customer_id == query.customer_id)
    if query.status is not None:
        conditions.append(Order.status == query.status)
    session = db()
    total = session.scalar(select(func.count()).select_from(Order).where(*conditions)) or 0
    orders = session.scalars(select(Order).where(*conditions).order_by(Order.id)
                             .limit(query.page_size).offset(query.offset)).all()
    return page_payload("Orders", [order_json(o) for o in orders], query.page, query.page_size, total, zone())


@bp.get("/<id:order_id>")
def get_order(order_id: int):
    return order_json(_load(order_id))


@bp.post("")
@transactional
def place_order():
    body = parse_body(OrderCreate)
    if body.CustomerId != current_customer_id():
        raise LegacyError(403, "NOT_YOUR_CUSTOMER_ID", f"CustomerId {body.CustomerId} is not the logged-in "
                          f"customer ({current_customer_id()}); orders are placed for yourself")
    session = db()
    prices: list[Decimal] = []
    for index, line in enumerate(body.Lines):
        found = coupling.product_price(session, line.ProductId)
        if found is None:
            raise LegacyError(422, "PRODUCT_NOT_FOUND", f"Lines[{index}]: product {line.ProductId} does not exist")
        if not found[1]:
            raise LegacyError(422, "PRODUCT_INACTIVE", f"Lines[{index}]: product {line.ProductId} is not for sale")
        prices.append(found[0])
    total = sum((p * ln.Quantity for p, ln in zip(prices, body.Lines, strict=True)), Decimal("0"))
    order = Order(customer_id=body.CustomerId, status="N", ordered_at=legacy_now(zone()), total=float(total))
    session.add(order)
    try:
        session.flush()
    except IntegrityError:
        raise LegacyError(422, "CUSTOMER_NOT_FOUND", f"customer {body.CustomerId} does not exist") from None
    # Reserve in product order so concurrent multi-line orders take row locks in the same order.
    for index in sorted(range(len(body.Lines)), key=lambda i: body.Lines[i].ProductId):
        line = body.Lines[index]
        warehouse = coupling.reserve(session, line.ProductId, line.Quantity)
        if warehouse is None:
            raise LegacyError(409, "INSUFFICIENT_STOCK", f"Lines[{index}]: fewer than {line.Quantity} unit(s) "
                              f"of product {line.ProductId} available in any single warehouse")
        order.lines.append(OrderLine(line_no=index + 1, product_id=line.ProductId, warehouse=warehouse,
                                     quantity=line.Quantity, unit_price=prices[index]))
    order.lines.sort(key=lambda ln: ln.line_no)
    session.flush()
    return order_json(order), 201


@bp.post("/<id:order_id>/cancel")
@transactional
def cancel_order(order_id: int):
    order = _load(order_id)
    if not rules.can_cancel(order.status):
        raise LegacyError(409, "INVALID_STATUS_TRANSITION",
                          f"order {order_id} is {order.status} ({rules.STATUS_NAMES[order.status]}); "
                          "only new (N) or paid (P) orders can be cancelled")
    for line in order.lines:
        if not coupling.release(db(), line.product_id, line.warehouse, line.quantity):
            raise LegacyError(409, "STOCK_INCONSISTENT",
                              f"reserved stock for product {line.product_id} in {line.warehouse} is lower than "
                              f"the order line; fix STOCK before cancelling")
    order.status = "C"
    return order_json(order)


@bp.post("/<id:order_id>/status")
@transactional
def change_status(order_id: int):
    body = parse_body(StatusChange)
    order = _load(order_id)
    if not rules.can_advance(order.status, body.Status):
        raise LegacyError(409, "INVALID_STATUS_TRANSITION", rules.transition_error(order.status, body.Status))
    if body.Status == "S":
        for line in order.lines:
            if not coupling.consume(db(), line.product_id, line.warehouse, line.quantity):
                raise LegacyError(409, "STOCK_INCONSISTENT",
                                  f"reserved stock for product {line.product_id} in {line.warehouse} is lower "
                                  "than the order line; fix STOCK before shipping")
    order.status = body.Status
    return order_json(order)
