"""Property tests: every valid legacy product survives legacy → domain → legacy unchanged (rows and JSON);
anything else becomes a TranslationError, never another exception."""
import contextlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from acl.catalog.translate import product_from_json, product_from_row, product_to_json, product_to_row
from acl.common.errors import TranslationError
from new_services.catalog.domain import ProductStatus

TZ = "Europe/London"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _existing_wall_time(moment: datetime) -> str:
    text = moment.strftime("%d/%m/%Y %H:%M")
    if moment.month == 3 and moment.weekday() == 6 and moment.day > 24 and moment.hour == 1:
        return moment.replace(hour=3).strftime("%d/%m/%Y %H:%M")  # skip the spring-forward gap
    return text


timestamps = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1)).map(_existing_wall_time)
skus = st.text(alphabet=UPPER + "-", min_size=1, max_size=20).filter(lambda s: s.strip("-") != "")
names = st.text(min_size=1, max_size=120).filter(lambda s: s.strip() != "")
prices = st.integers(min_value=0, max_value=9_999_999_999).map(lambda c: Decimal(c).scaleb(-2))
valid_rows = st.fixed_dictionaries({
    "PROD_ID": st.integers(min_value=1, max_value=2**31 - 1),
    "PROD_SKU": skus,
    "PROD_NM": names,
    "PROD_DESC": st.none() | st.text(max_size=300),
    "CAT_CD": st.text(alphabet=UPPER + "_", min_size=1, max_size=10),
    "UNIT_PRC": prices,
    "ACTV_FLG": st.sampled_from(["Y", "N"]),
    "CRT_DT": timestamps,
    "UPD_DT": timestamps,
})


@settings(max_examples=150)
@given(valid_rows)
def test_valid_rows_round_trip_exactly(row: dict[str, Any]) -> None:
    product = product_from_row(row, TZ)
    assert product.status is (ProductStatus.ACTIVE if row["ACTV_FLG"] == "Y" else ProductStatus.INACTIVE)
    assert product.created_at.utcoffset() == timedelta(0)
    assert product_to_row(product, TZ) == row


def _as_json(row: dict[str, Any], available: int) -> dict[str, Any]:
    return {"ProductId": row["PROD_ID"], "Sku": row["PROD_SKU"], "Name": row["PROD_NM"],
            "Description": row["PROD_DESC"], "Category": row["CAT_CD"], "UnitPrice": f"{row['UNIT_PRC']:.2f}",
            "Active": row["ACTV_FLG"], "Created": row["CRT_DT"], "Updated": row["UPD_DT"], "Available": available}


@settings(max_examples=150)
@given(valid_rows, st.integers(min_value=0, max_value=10**6))
def test_valid_json_round_trips_exactly_and_key_order_is_kept(row: dict[str, Any], available: int) -> None:
    dto = _as_json(row, available)
    back = product_to_json(product_from_json({**dto, "SomeFutureField": 1}, TZ), available, TZ)
    assert back == dto
    assert list(back) == list(dto)


corruptions = st.sampled_from([
    ("PROD_SKU", "lower-case"), ("PROD_SKU", ""), ("PROD_SKU", "---"), ("PROD_SKU", "X" * 21),
    ("PROD_NM", ""), ("PROD_NM", "   "), ("PROD_NM", None), ("PROD_NM", "n" * 121),
    ("CAT_CD", "toys"), ("CAT_CD", "TOOLONGCATEGORY"), ("UNIT_PRC", Decimal("-0.01")),
    ("UNIT_PRC", Decimal("1.005")), ("UNIT_PRC", "abc"), ("UNIT_PRC", None), ("ACTV_FLG", "y"),
    ("ACTV_FLG", None), ("CRT_DT", "31/03/2024 01:30"), ("UPD_DT", "2024-01-01T00:00"), ("CRT_DT", None),
    ("PROD_ID", 0), ("PROD_ID", "7"), ("PROD_ID", True), ("PROD_DESC", 5), ("PROD_DESC", "d" * 4001),
])


@given(valid_rows, corruptions)
def test_invalid_rows_raise_translation_error_naming_the_column(row: dict[str, Any],
                                                                corruption: tuple[str, Any]) -> None:
    column, value = corruption
    bad = {**row, column: value}
    try:
        product_from_row(bad, TZ)
    except TranslationError as exc:
        assert exc.field == column
        assert exc.reason
    else:
        raise AssertionError(f"{column}={value!r} was accepted")


@given(st.dictionaries(st.sampled_from(["PROD_ID", "PROD_SKU", "PROD_NM", "PROD_DESC", "CAT_CD", "UNIT_PRC",
                                        "ACTV_FLG", "CRT_DT", "UPD_DT", "X"]),
                       st.none() | st.integers() | st.text(max_size=25) | st.floats() | st.booleans()))
def test_arbitrary_garbage_never_crashes(row: dict[str, Any]) -> None:
    with contextlib.suppress(TranslationError):
        product_from_row(row, TZ)
    with contextlib.suppress(TranslationError):
        product_from_json(row, TZ)


def test_json_price_must_be_a_string() -> None:
    row = {"ProductId": 1, "Sku": "A", "Name": "n", "Category": "C", "UnitPrice": 12.5, "Active": "Y",
           "Created": "01/01/2024 10:00", "Updated": "01/01/2024 10:00"}
    try:
        product_from_json(row, TZ)
    except TranslationError as exc:
        assert exc.field == "UnitPrice"
    else:
        raise AssertionError("float price accepted from legacy JSON")


def test_foreign_currency_cannot_go_back_to_legacy() -> None:
    row = {"PROD_ID": 1, "PROD_SKU": "A", "PROD_NM": "n", "PROD_DESC": None, "CAT_CD": "C",
           "UNIT_PRC": Decimal("1.00"), "ACTV_FLG": "Y", "CRT_DT": "01/01/2024 10:00", "UPD_DT": "01/01/2024 10:00"}
    product = product_from_row(row, TZ)
    import dataclasses
    try:
        product_to_row(dataclasses.replace(product, currency="EUR"), TZ)
    except TranslationError as exc:
        assert exc.field == "UNIT_PRC" and "GBP" in exc.reason
    else:
        raise AssertionError("EUR product written to a GBP-only legacy table")
