"""Property tests: every valid legacy order survives legacy → domain → legacy unchanged (rows and JSON);
invalid legacy orders become a TranslationError, never another exception. Plus the backfill mappings."""
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acl.common.errors import TranslationError
from acl.orders.mapping import (
    aggregate_to_records,
    order_header_to_record,
    order_line_to_record,
)
from acl.orders.translate import (
    order_from_json,
    order_from_rows,
    order_to_json,
    order_to_rows,
)
from new_services.orders.domain import OrderStatus

TZ = "Europe/London"


def _existing_wall_time(moment: datetime) -> str:
    if moment.month == 3 and moment.weekday() == 6 and moment.day > 24 and moment.hour == 1:
        moment = moment.replace(hour=3)  # skip the spring-forward gap, which never existed in London
    return moment.strftime("%d/%m/%Y %H:%M")


timestamps = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2050, 1, 1)).map(_existing_wall_time)
prices = st.integers(min_value=0, max_value=5_000_000).map(lambda c: Decimal(c).scaleb(-2))
line_parts = st.tuples(st.integers(1, 2**31 - 1), st.sampled_from(["LON1", "MAN1", "EDI1", "X"]),
                       st.integers(1, 1000), prices)


@st.composite
def legacy_orders(draw: st.DrawFn) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    order_id = draw(st.integers(1, 2**31 - 1))
    parts = draw(st.lists(line_parts, min_size=1, max_size=8))
    lines = [{"ORD_ID": order_id, "LN_NO": n, "PROD_ID": p, "WH_CD": w, "QTY": q, "UNIT_PRC": u}
             for n, (p, w, q, u) in enumerate(parts, start=1)]
    total = sum((ln["UNIT_PRC"] * ln["QTY"] for ln in lines), Decimal(0))
    header = {"ORD_ID": order_id, "CUST_ID": draw(st.integers(1, 2**31 - 1)),
              "ORD_STS": draw(st.sampled_from("NPSDC")), "ORD_DT": draw(timestamps), "ORD_TOT": float(total)}
    return header, lines


def as_json(header: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, Any]:
    """The monolith's order_json for these rows (legacy_monolith/orders/schemas.py)."""
    return {"OrderId": header["ORD_ID"], "CustomerId": header["CUST_ID"], "Status": header["ORD_STS"],
            "OrderDate": header["ORD_DT"], "Total": header["ORD_TOT"],
            "Lines": [{"LineNo": ln["LN_NO"], "ProductId": ln["PROD_ID"], "Warehouse": ln["WH_CD"],
                       "Quantity": ln["QTY"], "UnitPrice": f"{ln['UNIT_PRC']:.2f}"} for ln in lines]}


@settings(max_examples=150)
@given(legacy_orders())
def test_valid_rows_round_trip_exactly(legacy: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    header, lines = legacy
    order = order_from_rows(header, list(reversed(lines)), TZ)  # line order in the source does not matter
    assert order.placed_at.utcoffset().total_seconds() == 0
    assert order.reservation_ids == []
    assert order_to_rows(order, TZ) == (header, lines)


@settings(max_examples=150)
@given(legacy_orders())
def test_valid_json_round_trips_exactly_with_key_order(legacy: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    dto = as_json(*legacy)
    back = order_to_json(order_from_json(dto, TZ), TZ)
    assert back == dto
    assert list(back) == list(dto) and all(list(a) == list(b) for a, b in zip(back["Lines"], dto["Lines"], strict=True))


def test_status_letters_map_to_the_domain_enum() -> None:
    header, lines = ({"ORD_ID": 1, "CUST_ID": 2, "ORD_STS": "C", "ORD_DT": "01/07/2024 10:00", "ORD_TOT": 25.0},
                     [{"ORD_ID": 1, "LN_NO": 1, "PROD_ID": 3, "WH_CD": "LON1", "QTY": 2, "UNIT_PRC": Decimal("12.50")}])
    order = order_from_rows(header, lines, TZ)
    assert order.status is OrderStatus.CANCELLED
    assert order.placed_at.isoformat() == "2024-07-01T09:00:00+00:00"  # BST → UTC


def _breakages() -> list[tuple[str, Any, str]]:
    return [("ORD_STS", "X", "ORD_STS"), ("ORD_STS", None, "ORD_STS"), ("ORD_DT", "2024-01-01", "ORD_DT"),
            ("ORD_DT", "31/02/2024 10:00", "ORD_DT"), ("ORD_DT", "31/03/2024 01:30", "ORD_DT"),
            ("ORD_TOT", 99.99, "ORD_TOT"), ("ORD_TOT", float("nan"), "ORD_TOT"), ("ORD_TOT", "25", "ORD_TOT"),
            ("CUST_ID", 0, "CUST_ID"), ("CUST_ID", "7", "CUST_ID"), ("ORD_ID", None, "ORD_ID")]


@pytest.mark.parametrize(("column", "value", "field"), _breakages())
def test_invalid_headers_raise_translation_error(column: str, value: Any, field: str) -> None:
    header = {"ORD_ID": 1, "CUST_ID": 2, "ORD_STS": "N", "ORD_DT": "01/07/2024 10:00", "ORD_TOT": 25.0}
    lines = [{"ORD_ID": 1, "LN_NO": 1, "PROD_ID": 3, "WH_CD": "LON1", "QTY": 2, "UNIT_PRC": Decimal("12.50")}]
    header[column] = value
    with pytest.raises(TranslationError) as caught:
        order_from_rows(header, lines, TZ)
    assert caught.value.field == field


line_breakages = st.sampled_from([("QTY", 0), ("QTY", -1), ("QTY", 1.5), ("QTY", True), ("UNIT_PRC", "abc"),
                                  ("UNIT_PRC", Decimal("1.005")), ("UNIT_PRC", Decimal("-1.00")),
                                  ("WH_CD", ""), ("WH_CD", "TOOLONG"), ("WH_CD", None), ("PROD_ID", 0),
                                  ("LN_NO", -2), ("ORD_ID", 999_999)])


@settings(max_examples=150)
@given(legacy_orders(), line_breakages, st.data())
def test_invalid_lines_raise_translation_error(legacy, breakage, data) -> None:
    header, lines = legacy
    victim = data.draw(st.integers(0, len(lines) - 1))
    column, value = breakage
    if column == "ORD_ID" and value == header["ORD_ID"]:
        value += 1
    lines[victim][column] = value
    with pytest.raises(TranslationError):
        order_from_rows(header, lines, TZ)


@settings(max_examples=100)
@given(legacy_orders(), st.sampled_from(["OrderId", "Status", "OrderDate", "Total", "Lines", "CustomerId"]))
def test_invalid_json_raises_translation_error(legacy, key) -> None:
    dto = as_json(*legacy)
    dto[key] = {"OrderId": "1", "Status": "Q", "OrderDate": "yesterday", "Total": "25.00", "Lines": [],
                "CustomerId": -3}[key]
    with pytest.raises(TranslationError):
        order_from_json(dto, TZ)
    del dto[key]
    with pytest.raises(TranslationError):
        order_from_json(dto, TZ)


def test_orders_without_lines_are_refused() -> None:
    header = {"ORD_ID": 1, "CUST_ID": 2, "ORD_STS": "N", "ORD_DT": "01/07/2024 10:00", "ORD_TOT": 0.0}
    with pytest.raises(TranslationError) as caught:
        order_from_rows(header, [], TZ)
    assert caught.value.field == "ORD_LINES"


@settings(max_examples=50)
@given(legacy_orders())
def test_backfill_mappings_agree_with_the_aggregate(legacy) -> None:
    header, lines = legacy
    order_record, line_records = aggregate_to_records(header, lines, TZ)
    assert order_header_to_record(header) == order_record
    assert [order_line_to_record(ln) for ln in lines] == line_records
    assert order_record["total_minor"] == sum(r["unit_price_minor"] * r["quantity"] for r in line_records)
    assert all(r["reservation_id"] is None for r in line_records)
