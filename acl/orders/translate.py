"""Pure translators between the legacy orders model (ORDERS + ORD_LINES rows, legacy Order JSON) and the
domain Order aggregate.

Why strict: the backfill, the legacy-compatible endpoints and parity all rely on these being exact inverses
for every valid legacy order. Data the domain cannot hold faithfully — a total that is not the sum of the
lines, an unknown status letter, a float total with sub-cent noise — is a TranslationError naming the
legacy field, never a silent fix.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from acl.common.conventions import (
    decimal_to_legacy_money,
    legacy_money_to_decimal,
    legacy_ts_to_utc,
    require_int,
    require_text,
    utc_to_legacy_ts,
)
from acl.common.errors import TranslationError
from new_services.orders.domain import InvalidOrder, Order, OrderLine, OrderStatus

DEFAULT_TZ = "Europe/London"
STATUS_FROM_LEGACY = {"N": OrderStatus.PENDING, "P": OrderStatus.PAID, "S": OrderStatus.SHIPPED,
                      "D": OrderStatus.DELIVERED, "C": OrderStatus.CANCELLED}
STATUS_TO_LEGACY = {status: letter for letter, status in STATUS_FROM_LEGACY.items()}
STATUS_NAMES = {"N": "new", "P": "paid", "S": "shipped", "D": "delivered", "C": "cancelled"}

ROW_FIELDS = {"id": "ORD_ID", "customer_id": "CUST_ID", "status": "ORD_STS", "placed_at": "ORD_DT",
              "lines": "ORD_LINES", "line_no": "LN_NO", "product_id": "PROD_ID", "warehouse": "WH_CD",
              "quantity": "QTY", "unit_price": "UNIT_PRC", "total": "ORD_TOT"}
JSON_FIELDS = {"id": "OrderId", "customer_id": "CustomerId", "status": "Status", "placed_at": "OrderDate",
               "lines": "Lines", "line_no": "LineNo", "product_id": "ProductId", "warehouse": "Warehouse",
               "quantity": "Quantity", "unit_price": "UnitPrice", "total": "Total"}


def status_from_legacy(value: Any, field: str) -> OrderStatus:
    if not isinstance(value, str) or value not in STATUS_FROM_LEGACY:
        raise TranslationError(field, value, "expected one of N, P, S, D, C")
    return STATUS_FROM_LEGACY[value]


def status_to_legacy(status: OrderStatus) -> str:
    return STATUS_TO_LEGACY[status]


def _get(source: Any, key: str) -> Any:
    if not isinstance(source, Mapping):
        raise TranslationError(key, source, "expected an object")
    if key not in source:
        raise TranslationError(key, None, "missing")
    return source[key]


def _build_line(values: dict[str, Any], names: Mapping[str, str]) -> OrderLine:
    try:
        return OrderLine(**values)
    except InvalidOrder as exc:
        raise TranslationError(names.get(exc.field, exc.field), exc.value, exc.reason) from None


def _build_order(values: dict[str, Any], names: Mapping[str, str], total: Any) -> Order:
    try:
        order = Order(**values)
    except InvalidOrder as exc:
        raise TranslationError(names.get(exc.field, exc.field), exc.value, exc.reason) from None
    amount = legacy_money_to_decimal(total, names["total"])
    if amount != order.total:
        raise TranslationError(names["total"], total, f"is not the sum of the lines ({order.total})")
    return order


def float_total(value: Any, field: str) -> Any:
    """ORD_TOT / Total is a number (a float column / JSON number), never text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TranslationError(field, value, "expected a number (legacy stores order totals as floats)")
    return value


def _id(order: Order, names: Mapping[str, str]) -> int:
    if order.id is None:
        raise TranslationError(names["id"], None, "an unsaved order has no legacy id")
    return order.id


# --- rows (backfill, sync) ----------------------------------------------------------------------------------

def line_from_row(row: Mapping[str, Any]) -> OrderLine:
    return _build_line({
        "line_no": require_int(_get(row, "LN_NO"), "LN_NO"),
        "product_id": require_int(_get(row, "PROD_ID"), "PROD_ID"),
        "warehouse": require_text(_get(row, "WH_CD"), "WH_CD"),
        "quantity": require_int(_get(row, "QTY"), "QTY"),
        "unit_price": legacy_money_to_decimal(_get(row, "UNIT_PRC"), "UNIT_PRC"),
    }, ROW_FIELDS)


def order_from_rows(order_row: Mapping[str, Any], line_rows: Iterable[Mapping[str, Any]],
                    tz: str = DEFAULT_TZ) -> Order:
    """An ORDERS row and its ORD_LINES rows (any order) → the domain Order aggregate."""
    order_id = require_int(_get(order_row, "ORD_ID"), "ORD_ID")
    lines = []
    for row in line_rows:
        if _get(row, "ORD_ID") != order_id:
            raise TranslationError("ORD_LINES.ORD_ID", row["ORD_ID"], f"line does not belong to order {order_id}")
        lines.append(line_from_row(row))
    return _build_order({
        "id": order_id,
        "customer_id": require_int(_get(order_row, "CUST_ID"), "CUST_ID"),
        "status": status_from_legacy(_get(order_row, "ORD_STS"), "ORD_STS"),
        "placed_at": legacy_ts_to_utc(_get(order_row, "ORD_DT"), tz, "ORD_DT"),
        "lines": tuple(sorted(lines, key=lambda ln: ln.line_no)),
    }, ROW_FIELDS, float_total(_get(order_row, "ORD_TOT"), "ORD_TOT"))


def order_to_rows(order: Order, tz: str = DEFAULT_TZ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Domain Order → (ORDERS row, ORD_LINES rows); ORD_TOT as the legacy float, UNIT_PRC as Decimal."""
    order_id = _id(order, ROW_FIELDS)
    header = {"ORD_ID": order_id, "CUST_ID": order.customer_id, "ORD_STS": status_to_legacy(order.status),
              "ORD_DT": utc_to_legacy_ts(order.placed_at, tz, "ORD_DT"), "ORD_TOT": float(order.total)}
    return header, [line_to_row(order_id, ln) for ln in order.lines]


def line_to_row(order_id: int, line: OrderLine) -> dict[str, Any]:
    """One domain line → its ORD_LINES row (UNIT_PRC as Decimal; legacy has no reservation id to keep)."""
    return {"ORD_ID": order_id, "LN_NO": line.line_no, "PROD_ID": line.product_id, "WH_CD": line.warehouse,
            "QTY": line.quantity, "UNIT_PRC": line.unit_price}


# --- legacy JSON (legacy-compatible API, parity) -------------------------------------------------------------

def order_from_json(dto: Any, tz: str = DEFAULT_TZ) -> Order:
    """Legacy Order JSON → domain Order. Tolerant reader: unknown keys are ignored."""
    raw_lines = _get(dto, "Lines")
    if not isinstance(raw_lines, list):
        raise TranslationError("Lines", raw_lines, "expected a list")
    lines = []
    for item in raw_lines:
        price = _get(item, "UnitPrice")
        if not isinstance(price, str):
            raise TranslationError("UnitPrice", price, "legacy JSON serves prices as decimal strings")
        lines.append(_build_line({
            "line_no": require_int(_get(item, "LineNo"), "LineNo"),
            "product_id": require_int(_get(item, "ProductId"), "ProductId"),
            "warehouse": require_text(_get(item, "Warehouse"), "Warehouse"),
            "quantity": require_int(_get(item, "Quantity"), "Quantity"),
            "unit_price": legacy_money_to_decimal(price, "UnitPrice"),
        }, JSON_FIELDS))
    total = _get(dto, "Total")
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        raise TranslationError("Total", total, "expected a JSON number")
    return _build_order({
        "id": require_int(_get(dto, "OrderId"), "OrderId"),
        "customer_id": require_int(_get(dto, "CustomerId"), "CustomerId"),
        "status": status_from_legacy(_get(dto, "Status"), "Status"),
        "placed_at": legacy_ts_to_utc(_get(dto, "OrderDate"), tz, "OrderDate"),
        "lines": tuple(lines),
    }, JSON_FIELDS, float(total))


def order_to_json(order: Order, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Domain Order → legacy Order JSON (key order as the monolith serves it; Total as a float)."""
    return {
        "OrderId": _id(order, JSON_FIELDS),
        "CustomerId": order.customer_id,
        "Status": status_to_legacy(order.status),
        "OrderDate": utc_to_legacy_ts(order.placed_at, tz, "OrderDate"),
        "Total": float(order.total),
        "Lines": [{"LineNo": ln.line_no, "ProductId": ln.product_id, "Warehouse": ln.warehouse,
                   "Quantity": ln.quantity, "UnitPrice": decimal_to_legacy_money(ln.unit_price)}
                  for ln in order.lines],
    }
