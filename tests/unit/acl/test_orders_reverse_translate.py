"""Property tests of the orders reverse translators (service rows → ORDERS / ORD_LINES rows, for the reverse
sync after `migrate handover orders --writes service`): every valid legacy row survives legacy → service →
legacy unchanged; a service row reaches legacy at legacy's precision (local minutes, no reservation id) and
reads back forward as itself at that precision; what legacy cannot hold is a TranslationError."""
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from acl.common.conventions import zone
from acl.common.errors import TranslationError
from acl.orders.mapping import (
    ORD_LINES,
    ORDERS,
    legacy_tz,
    order_header_to_record,
    order_line_record_domain,
    order_line_record_to_row,
    order_line_to_record,
    order_record_domain,
    order_record_to_header,
)
from new_services.common.settings import DEFAULT_ID_START
from new_services.orders.domain import OrderStatus
from tests.unit.orders.test_orders_translate import legacy_orders


@settings(max_examples=200)
@given(legacy_orders())
def test_legacy_rows_round_trip_through_service_rows(legacy: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
    header, lines = legacy
    record = order_header_to_record(header)
    back = order_record_to_header(record)
    assert back == header and type(back["ORD_TOT"]) is float  # ORD_TOT stays the legacy float
    assert order_record_domain(record) == record  # verify compares a backfilled row as itself
    for line in lines:
        line_record = order_line_to_record(line)
        assert order_line_record_to_row(line_record) == line
        assert order_line_record_domain(line_record) == line_record


def _unambiguous(moment: datetime) -> bool:
    """Not in the autumn hour that legacy's wall clock shows twice (it keeps no offset: read back as the first)."""
    local = moment.astimezone(zone(legacy_tz()))
    return local.utcoffset() == local.replace(fold=1 - local.fold).utcoffset()


service_times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2050, 1, 1),
                             timezones=st.just(UTC))


@st.composite
def service_orders(draw: st.DrawFn) -> dict[str, Any]:
    """An `orders` row as the service writes it: seconds and microseconds included, money in minor units."""
    return {"id": draw(st.integers(DEFAULT_ID_START, 2**31 - 1)), "customer_id": draw(st.integers(1, 2**31 - 1)),
            "status": draw(st.sampled_from(list(OrderStatus))), "placed_at": draw(service_times),
            "total_minor": draw(st.integers(0, 10**13)), "currency": "GBP"}


@settings(max_examples=200)
@given(service_orders())
def test_service_orders_reach_legacy_at_its_precision(record: dict[str, Any]) -> None:
    assume(_unambiguous(record["placed_at"]))
    header = order_record_to_header(record)
    assert header["ORD_ID"] == record["id"] and header["ORD_STS"] in "NPSDC" and len(header["ORD_DT"]) == 16
    assert Decimal(repr(header["ORD_TOT"])) * 100 == record["total_minor"]
    minute = record["placed_at"].replace(second=0, microsecond=0)
    assert order_header_to_record(header) == {**record, "placed_at": minute}
    assert order_record_domain(record) == order_record_domain({**record, "placed_at": minute})


@settings(max_examples=100)
@given(st.integers(DEFAULT_ID_START, 2**31 - 1), st.integers(1, 50), st.integers(1, 2**31 - 1),
       st.sampled_from(["LON1", "MAN1", "EDI1"]), st.integers(1, 1000), st.integers(0, 5_000_000),
       st.one_of(st.none(), st.integers(1, 2**31 - 1)))
def test_service_lines_reach_legacy_without_their_reservation(order_id: int, line_no: int, product_id: int,
                                                              warehouse: str, quantity: int, price_minor: int,
                                                              reservation_id: int | None) -> None:
    record = {"order_id": order_id, "line_no": line_no, "product_id": product_id, "warehouse": warehouse,
              "quantity": quantity, "unit_price_minor": price_minor, "reservation_id": reservation_id}
    row = order_line_record_to_row(record)
    assert row == {"ORD_ID": order_id, "LN_NO": line_no, "PROD_ID": product_id, "WH_CD": warehouse,
                   "QTY": quantity, "UNIT_PRC": Decimal(price_minor).scaleb(-2)}
    assert order_line_to_record(row) == {**record, "reservation_id": None}


GOOD_ORDER = {"id": DEFAULT_ID_START, "customer_id": 5, "status": OrderStatus.PENDING,
              "placed_at": datetime(2026, 7, 1, 9, 30, 12, tzinfo=UTC), "total_minor": 8400, "currency": "GBP"}
GOOD_LINE = {"order_id": DEFAULT_ID_START, "line_no": 1, "product_id": 7, "warehouse": "LON1", "quantity": 2,
             "unit_price_minor": 4200, "reservation_id": 3}


def test_a_good_service_order_in_legacy_terms() -> None:
    assert order_record_to_header(GOOD_ORDER, "Europe/London") == {
        "ORD_ID": DEFAULT_ID_START, "CUST_ID": 5, "ORD_STS": "N", "ORD_DT": "01/07/2026 10:30", "ORD_TOT": 84.0}
    assert order_record_to_header({**GOOD_ORDER, "status": "cancelled"})["ORD_STS"] == "C"  # a plain value too
    assert order_line_record_to_row(GOOD_LINE)["UNIT_PRC"] == Decimal("42.00")


@pytest.mark.parametrize(("change", "field", "reason"), [
    ({"currency": "EUR"}, "currency", "GBP totals only"),
    ({"total_minor": 2**60 + 1}, "total_minor", "cannot hold it exactly"),
    ({"total_minor": "8400"}, "total_minor", "expected an integer"),
    ({"status": "lost"}, "status", "not an order status"),
    ({"placed_at": datetime(2026, 7, 1, 9, 30)}, "placed_at", "naive datetime"),
    ({"placed_at": "01/07/2026 10:30"}, "placed_at", "expected a timestamp"),
    ({"id": 0}, "id", "positive integer"),
    ({"customer_id": None}, "customer_id", "expected an integer"),
])
def test_orders_legacy_cannot_hold_are_translation_errors(change: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(TranslationError) as info:
        order_record_to_header({**GOOD_ORDER, **change})
    assert info.value.field == field and reason in str(info.value)


@pytest.mark.parametrize(("change", "field"), [
    ({"quantity": 0}, "quantity"), ({"warehouse": ""}, "warehouse"), ({"unit_price_minor": 1.5}, "unit_price_minor"),
    ({"order_id": -1}, "order_id"), ({"line_no": 0}, "line_no"), ({"reservation_id": 0}, "reservation_id"),
])
def test_lines_legacy_cannot_hold_are_translation_errors(change: dict[str, Any], field: str) -> None:
    with pytest.raises(TranslationError) as info:
        order_line_record_to_row({**GOOD_LINE, **change})
    assert info.value.field == field


def test_both_orders_tables_translate_back_and_orders_declare_their_id_range(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ORDERS.to_source is order_record_to_header and ORD_LINES.to_source is order_line_record_to_row
    monkeypatch.delenv("ORDERS_ID_START", raising=False)
    assert ORDERS.service_ids is not None and ORDERS.service_ids.setting == "ORDERS_ID_START"
    assert ORDERS.service_ids.first_id() == DEFAULT_ID_START
    monkeypatch.setenv("ORDERS_ID_START", "500000")
    assert ORDERS.service_ids.first_id() == 500_000
