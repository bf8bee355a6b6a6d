"""Data migration for orders: legacy ORDERS + ORD_LINES → the orders service's `orders` + `order_lines`.

An order is an aggregate (header + lines, total = sum of lines), but strangler.migrate's TableMapping is
one table with one unique sortable key. So there are two ways in:

- `ORDERS` and `ORD_LINES` TableMappings for config/migrations.yaml (per-table; the header translator
  checks the header alone). Both directions: after `migrate handover orders --writes service` the reverse
  sync writes the service's orders into ORDERS/ORD_LINES — those rows only: the saga already reserved their
  stock through the monolith's inventory API, so STOCK is never touched here.
  CAVEAT: ORD_LINES has a composite key (ORD_ID, LN_NO); the engine keysets on a
  single column (`WHERE ORD_ID > last`), so lines of an order split across a batch boundary would be
  skipped — until the engine supports composite or parent/child keys (see the orders-service report),
  run it with --batch-size larger than the ORD_LINES row count, or use `backfill_orders`.
- `backfill_orders(source, target)`: aggregate backfill built on the engine's own pieces (reflection,
  upserts, report, sequence reset): keyset over ORDERS, each batch's lines fetched by order id, every
  order validated as a whole through the domain (lines + total), idempotent upserts.
"""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError

from acl.common.conventions import (
    legacy_money_to_decimal,
    legacy_ts_to_utc,
    minor_to_decimal,
    require_int,
    utc_to_legacy_ts,
)
from acl.common.errors import TranslationError
from acl.orders.translate import (
    float_total,
    line_from_row,
    line_to_row,
    order_from_rows,
    status_from_legacy,
    status_to_legacy,
)
from new_services.common.settings import legacy_tz
from new_services.orders.domain import InvalidOrder, OrderLine, OrderStatus
from new_services.orders.models import Base, order_lines_table, orders_table
from new_services.orders.repository import line_values, order_values, to_minor
from new_services.orders.settings import ID_START_ENV, get_orders_id_start
from strangler.migrate.engine import (
    BackfillReport,
    Progress,
    reflect_table,
    reset_sequence,
    upsert_statement,
)
from strangler.migrate.mapping import IdRange, Row, TableMapping

# --- per-table mappings (engine protocol) --------------------------------------------------------------------

def order_header_to_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ORDERS row → `orders` values (header only: the total comes from ORD_TOT, lines are not seen)."""
    customer_id = require_int(row["CUST_ID"], "CUST_ID")
    if customer_id < 1:
        raise TranslationError("CUST_ID", customer_id, "must be a positive integer")
    total = legacy_money_to_decimal(float_total(row["ORD_TOT"], "ORD_TOT"), "ORD_TOT")
    if total < 0:
        raise TranslationError("ORD_TOT", row["ORD_TOT"], "must not be negative")
    return {"id": require_int(row["ORD_ID"], "ORD_ID"), "customer_id": customer_id,
            "status": status_from_legacy(row["ORD_STS"], "ORD_STS"),
            "placed_at": legacy_ts_to_utc(row["ORD_DT"], legacy_tz(), "ORD_DT"),
            "total_minor": to_minor(total), "currency": "GBP"}


def order_line_to_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One ORD_LINES row → `order_lines` values (no reservation id: legacy reserved without records)."""
    return line_values(require_int(row["ORD_ID"], "ORD_ID"), line_from_row(row))


# reverse (service owns writes): service rows → legacy rows, at what legacy can hold

def _positive(value: Any, field: str) -> int:
    if require_int(value, field) < 1:
        raise TranslationError(field, value, "must be a positive integer")
    return value


def order_record_to_header(row: Mapping[str, Any], tz: str | None = None) -> dict[str, Any]:
    """One `orders` row → ORDERS values (reverse sync). Legacy keeps local minutes (ORD_DT), a float ORD_TOT
    and no currency: seconds are dropped; another currency, or a total the float cannot hold exactly, is a
    TranslationError (the row is quarantined, never written wrong)."""
    if row["currency"] != "GBP":
        raise TranslationError("currency", row["currency"], "legacy ORDERS holds GBP totals only")
    total = minor_to_decimal(require_int(row["total_minor"], "total_minor"))
    legacy_total = float(total)
    if total < 0 or legacy_money_to_decimal(legacy_total, "total_minor") != total:
        raise TranslationError("total_minor", row["total_minor"], "legacy ORD_TOT (a float) cannot hold it exactly")
    placed_at = row["placed_at"]
    if not isinstance(placed_at, datetime):
        raise TranslationError("placed_at", placed_at, "expected a timestamp")
    try:
        status = OrderStatus(row["status"])
    except ValueError:
        raise TranslationError("status", row["status"], "not an order status") from None
    return {"ORD_ID": _positive(row["id"], "id"), "CUST_ID": _positive(row["customer_id"], "customer_id"),
            "ORD_STS": status_to_legacy(status), "ORD_DT": utc_to_legacy_ts(placed_at, tz or legacy_tz(), "placed_at"),
            "ORD_TOT": legacy_total}


def order_line_record_to_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One `order_lines` row → ORD_LINES values (reverse sync). The reservation id stays in the service:
    legacy keeps none (its orders module reserved stock without records)."""
    order_id = _positive(row["order_id"], "order_id")
    try:
        line = OrderLine(line_no=row["line_no"], product_id=row["product_id"], warehouse=row["warehouse"],
                         quantity=row["quantity"],
                         unit_price=minor_to_decimal(require_int(row["unit_price_minor"], "unit_price_minor")),
                         reservation_id=row["reservation_id"])
    except InvalidOrder as exc:
        raise TranslationError(exc.field, exc.value, exc.reason) from None
    return line_to_row(order_id, line)


def order_record_domain(row: Mapping[str, Any]) -> dict[str, Any]:
    """verify's form of an `orders` row: as legacy holds it, read forward (whole minutes)."""
    return order_header_to_record(order_record_to_header(row))


def order_line_record_domain(row: Mapping[str, Any]) -> dict[str, Any]:
    """verify's form of an `order_lines` row: as legacy holds it, read forward (no reservation id)."""
    return order_line_to_record(order_line_record_to_row(row))


ORDERS = TableMapping(source_table="ORDERS", source_key="ORD_ID", target=orders_table,
                      translate=order_header_to_record, target_key=("id",), to_source=order_record_to_header,
                      target_domain=order_record_domain,
                      service_ids=IdRange(start=get_orders_id_start, setting=ID_START_ENV))
ORD_LINES = TableMapping(source_table="ORD_LINES", source_key="ORD_ID", target=order_lines_table,
                         translate=order_line_to_record, target_key=("order_id", "line_no"),
                         to_source=order_line_record_to_row, target_domain=order_line_record_domain)


# --- aggregate backfill ---------------------------------------------------------------------------------------

def aggregate_to_records(order_row: Mapping[str, Any], line_rows: Sequence[Mapping[str, Any]],
                         tz: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """ORDERS row + its ORD_LINES rows → (`orders` values, `order_lines` values), validated as a whole."""
    order = order_from_rows(order_row, line_rows, tz or legacy_tz())
    assert order.id is not None
    return order_values(order), [line_values(order.id, line) for line in order.lines]


def backfill_orders(source: Engine, target: Engine, *, batch_size: int = 500,
                    progress: Progress | None = None) -> BackfillReport:
    """Copy every legacy order with its lines into the orders database; safe to re-run."""
    started = time.perf_counter()
    orders_src, lines_src = reflect_table(source, "ORDERS"), reflect_table(source, "ORD_LINES")
    col = {c.name.upper(): c for c in orders_src.columns}
    line_col = {c.name.upper(): c for c in lines_src.columns}
    key = col["ORD_ID"]
    Base.metadata.create_all(target, tables=[orders_table, order_lines_table])
    upsert_orders = upsert_statement(target, orders_table, ("id",))
    upsert_lines = upsert_statement(target, order_lines_table, ("order_id", "line_no"))
    report = BackfillReport(source_table="ORDERS+ORD_LINES", target_table="orders+order_lines")
    with source.connect() as conn:
        report.total = conn.execute(select(func.count()).select_from(orders_src)).scalar_one()
    last: Any = None
    while True:
        query = select(orders_src).order_by(key).limit(batch_size)
        if last is not None:
            query = query.where(key > last)
        with source.connect() as conn:
            headers = [Row(r) for r in conn.execute(query).mappings()]
            if not headers:
                break
            ids = [h["ORD_ID"] for h in headers]
            children: dict[Any, list[Row]] = defaultdict(list)
            for raw in conn.execute(select(lines_src).where(line_col["ORD_ID"].in_(ids))).mappings():
                line = Row(raw)
                children[line["ORD_ID"]].append(line)
        last = ids[-1]
        translated = []
        for header in headers:
            try:
                translated.append((header["ORD_ID"], *aggregate_to_records(header, children[header["ORD_ID"]])))
            except ValueError as exc:
                report.note_failure(header["ORD_ID"], exc)
        report.read += len(headers)
        _write(target, upsert_orders, upsert_lines, translated, report)
        report.elapsed_s = time.perf_counter() - started
        if progress is not None:
            progress(report)
    reset_sequence(target, orders_table)
    report.elapsed_s = time.perf_counter() - started
    return report


def _write(target: Engine, upsert_orders: Any, upsert_lines: Any,
           translated: list[tuple[Any, dict[str, Any], list[dict[str, Any]]]], report: BackfillReport) -> None:
    """One transaction per batch; on a constraint violation, order by order so one bad order sinks alone."""
    if not translated:
        return
    try:
        with target.begin() as conn:
            conn.execute(upsert_orders, [header for _, header, _ in translated])
            conn.execute(upsert_lines, [line for _, _, lines in translated for line in lines])
        report.written += len(translated)
        return
    except IntegrityError:
        pass
    for key, header, lines in translated:
        try:
            with target.begin() as conn:
                conn.execute(upsert_orders, [header])
                conn.execute(upsert_lines, lines)
            report.written += 1
        except IntegrityError as exc:
            report.note_failure(key, ValueError(f"target constraint violated: {exc.orig}"))
