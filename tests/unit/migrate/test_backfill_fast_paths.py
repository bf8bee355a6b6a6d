"""The backfill's fast paths give exactly what the reference paths give: time-zone memo vs zoneinfo per value,
Product/row fast checks vs the full rules, and the compiled-once upsert vs SQLAlchemy's own executemany
(byte-identical stored values, read back through Core and the catalog repository)."""
from __future__ import annotations

import dataclasses
import os
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    select,
    text,
)
from sqlalchemy.orm import Session

from acl.catalog.translate import _product_from_row_checked, product_from_row
from acl.common import conventions
from acl.common.conventions import _legacy_ts_to_utc_exact, legacy_ts_to_utc
from new_services.catalog.domain import Product, ProductStatus
from new_services.catalog.models import products_table
from new_services.catalog.repository import ProductRepository, record_values
from strangler.migrate.bulk import BatchUpsert, bind_processor
from strangler.migrate.db import open_engine
from strangler.migrate.engine import backfill
from strangler.migrate.mapping import Row, TableMapping, row_type

ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "America/St_Johns", "Asia/Kolkata"]
PG_URL = os.environ.get("STRANGLER_TEST_PG_URL")


def outcome(call: Any, *args: Any) -> Any:
    """A result or the error it raised, as comparable values (type, message, attributes)."""
    try:
        value = call(*args)
    except Exception as exc:  # noqa: BLE001 - the error itself is the outcome being compared
        return ("error", type(exc).__name__, str(exc), getattr(exc, "field", None), repr(getattr(exc, "value", None)))
    if isinstance(value, datetime):
        return ("ok", value, value.tzinfo, value.fold)
    return ("ok", value)


def reference_ts(value: Any, tz: str, field: str) -> datetime:
    """The conversion as it was before the memo: pattern check, then zoneinfo per value."""
    if not isinstance(value, str) or not conventions._LEGACY_TS.fullmatch(value):
        raise conventions.TranslationError(field, value, "expected a 'DD/MM/YYYY HH:MM' timestamp")
    return _legacy_ts_to_utc_exact(value, tz, field)


def test_memoised_time_zone_conversion_matches_zoneinfo_around_every_dst_change() -> None:
    rng = random.Random(11)
    for tz in ZONES:
        conventions._HOUR_STARTS.clear()
        local = conventions.zone(tz)
        for year in (1971, 2024):
            days = [datetime(year, 1, 1) + timedelta(days=n) for n in range(366)]
            values = [(day + timedelta(minutes=rng.randrange(1440))).strftime("%d/%m/%Y %H:%M") for day in days]
            for day in days:  # every minute of the two days around each offset change
                if day.replace(hour=12, tzinfo=local).utcoffset() != \
                        (day + timedelta(days=1)).replace(hour=12, tzinfo=local).utcoffset():
                    values += [(day + timedelta(minutes=m)).strftime("%d/%m/%Y %H:%M") for m in range(2 * 1440)]
            for value in values:
                expected = outcome(reference_ts, value, tz, "F")
                assert outcome(legacy_ts_to_utc, value, tz, "F") == expected  # cold or memoised
                assert outcome(legacy_ts_to_utc, value, tz, "F") == expected  # memoised


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(ZONES), st.integers(0, 99), st.integers(0, 99), st.integers(0, 9999), st.integers(0, 99),
       st.integers(0, 99), st.sampled_from([":", ".", " "]))
def test_odd_timestamps_fail_or_convert_exactly_as_before(tz: str, d: int, m: int, y: int, hh: int, mm: int,
                                                          sep: str) -> None:
    value = f"{d:02d}/{m:02d}/{y:04d} {hh:02d}{sep}{mm:02d}"
    assert outcome(legacy_ts_to_utc, value, tz, "F") == outcome(reference_ts, value, tz, "F")
    assert outcome(legacy_ts_to_utc, value, tz, "F") == outcome(reference_ts, value, tz, "F")


@pytest.mark.parametrize("value", [None, 5, b"01/01/2024 10:00", "01/01/2024 10:00\n", "01/01/2024 10:0",
                                   "31/02/2024 10:00", "01/01/2024 24:00", "01/01/0001 00:00",
                                   "31/12/9999 23:59", "26/03/2023 01:30", "29/10/2023 01:30"])
def test_edge_timestamps(value: Any) -> None:
    for tz in ("Europe/London", "Asia/Tokyo", "America/New_York"):
        assert outcome(legacy_ts_to_utc, value, tz, "F") == outcome(reference_ts, value, tz, "F")
    assert outcome(legacy_ts_to_utc, "01/01/2024 10:00", "Mars/Olympus", "F")[1] == \
        outcome(reference_ts, "01/01/2024 10:00", "Mars/Olympus", "F")[1]


ROW_VALUES = {
    "PROD_ID": [1, 0, -3, True, 2.0, "7", None, 2**40],
    "PROD_SKU": ["SKU-1", "sku-1", "", "-", "A" * 21, None, 5],
    "PROD_NM": ["Lamp", " ", "", "x" * 121, None, 3],
    "PROD_DESC": [None, "", "d" * 4001, 7, "about"],
    "CAT_CD": ["ELEC", "elec", "TOO_LONG_CAT", "", None],
    "UNIT_PRC": [Decimal("12.50"), Decimal("1.005"), "3.99", "3.999", 4, 2.5, -1, None, True, Decimal("NaN"),
                 Decimal("100000000.00")],
    "ACTV_FLG": ["Y", "N", "y", "", None, 1],
    "CRT_DT": ["01/02/2023 10:00", "26/03/2023 01:30", "29/10/2023 01:30", "bad", None],
    "UPD_DT": ["01/07/2023 10:00", "31/02/2023 10:00", 5],
}


def combinations(choices: dict[str, list[Any]], count: int, seed: int) -> list[dict[str, Any]]:
    """`count` seeded random picks of one value per key, plus every all-first-choice-but-one variant."""
    rng = random.Random(seed)
    picks = [{k: rng.choice(v) for k, v in choices.items()} for _ in range(count)]
    first = {k: v[0] for k, v in choices.items()}
    return picks + [dict(first, **{k: value}) for k, values in choices.items() for value in values]


def test_row_fast_path_matches_the_checked_translation() -> None:
    rng = random.Random(5)
    for row in combinations(ROW_VALUES, 3000, seed=1):
        missing = set(rng.sample(sorted(ROW_VALUES), rng.choice([0, 0, 0, 1, 2])))
        lower = rng.random() < 0.3
        data = {(k.lower() if lower else k): v for k, v in row.items() if k not in missing}
        for candidate in (Row(data), row_type(tuple(data))(data)):
            assert outcome(product_from_row, candidate, "Europe/London") == \
                outcome(_product_from_row_checked, candidate, "Europe/London")


PRODUCT_VALUES = {
    "id": [None, 1, 0, True, 3.0, 10**12], "sku": ["SKU-1", "sku", "", 5], "name": ["Lamp", " ", "x" * 121, None],
    "description": [None, "", "d" * 4001, 1], "category": ["ELEC", "GBP", "elec", "", 5],
    "price": [Decimal(0), Decimal("12.50"), Decimal("1.005"), Decimal(-1), Decimal("99999999.99"),
              Decimal(100000000), Decimal("Infinity"), 12.5, 3],
    "status": [ProductStatus.ACTIVE, ProductStatus.INACTIVE, "active"],
    "created_at": [datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1),
                   datetime(2024, 1, 1, tzinfo=conventions.zone("Europe/London")), "2024-01-01"],
    "updated_at": [datetime(2024, 1, 2, tzinfo=UTC), None],
    "currency": ["GBP", "ELEC", "gbp", "EURO", 1],
}


def full_rules(values: dict[str, Any]) -> Any:
    """The complete rule set run on an instance built without __init__ (the reference)."""
    product = object.__new__(Product)
    for name, value in values.items():
        object.__setattr__(product, name, value)
    product._check_rules()
    return "valid"


def test_product_fast_validation_accepts_and_rejects_exactly_like_the_full_rules() -> None:
    for values in combinations(PRODUCT_VALUES, 4000, seed=2):
        assert outcome(lambda values=values: Product(**values) and "valid") == outcome(full_rules, values)


# --- the compiled-once upsert --------------------------------------------------------------------------------

def sample_products(count: int, seed: int = 3) -> list[Product]:
    rng = random.Random(seed)
    products = []
    for n in range(1, count + 1):
        moment = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8),
                                                                microseconds=rng.choice([0, rng.randrange(10**6)]))
        products.append(Product(id=n, sku=f"SKU-{n}", name=f"Item {n}", description=rng.choice([None, "", "x"]),
                                category=rng.choice(["ELEC", "TOYS"]), price=Decimal(rng.randrange(10**6)) / 100,
                                status=rng.choice(list(ProductStatus)), created_at=moment,
                                updated_at=moment.astimezone(conventions.zone("Asia/Kolkata"))))
    return products


def test_sqlite_datetime_text_is_sqlalchemys() -> None:
    dialect = create_engine("sqlite://").dialect
    standard = products_table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    fast = bind_processor(products_table.c.created_at.type, dialect)
    for product in sample_products(300):
        for moment in (product.created_at, product.updated_at, product.created_at.replace(microsecond=0)):
            assert fast(moment) == standard(moment)
    assert fast(None) is None and standard(None) is None


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_batch_upsert_stores_what_sqlalchemy_stores(backend: str, tmp_path: Path) -> None:
    if backend == "postgresql" and not PG_URL:
        pytest.skip("set STRANGLER_TEST_PG_URL for the PostgreSQL run")
    engines = ([open_engine(f"sqlite:///{tmp_path}/{name}.db") for name in ("fast", "core")] if backend == "sqlite"
               else [open_engine(PG_URL)] * 2)
    tables = [products_table] * 2 if backend == "sqlite" else [
        Table(f"bfs_products_{name}", MetaData(), *[Column(c.name, c.type, primary_key=c.primary_key, unique=c.unique,
                                                           nullable=c.nullable) for c in products_table.columns])
        for name in ("fast", "core")]
    for engine, table in zip(engines, tables, strict=True):
        table.metadata.drop_all(engine, tables=[table])
        table.metadata.create_all(engine, tables=[table])
    try:
        products = sample_products(120)
        rows = [record_values(p) for p in products]
        fast = BatchUpsert(engines[0], tables[0], ("id",))
        assert fast.fast and (backend == "sqlite" or fast._multi is not None)
        core = BatchUpsert(engines[1], tables[1], ("id",))
        for batch in (rows, rows[:5], [dict(r, name="renamed") for r in rows[:7]]):  # insert, re-apply, update
            with engines[0].begin() as conn:
                fast.run(conn, batch)
            with engines[1].begin() as conn:
                conn.execute(core.statement, batch)
        stored = []
        for engine, table in zip(engines, tables, strict=True):
            with engine.connect() as conn:
                raw = conn.exec_driver_sql(f"SELECT * FROM {table.name} ORDER BY id").fetchall()
                if backend == "sqlite":
                    raw = [(r, conn.exec_driver_sql(f"SELECT typeof(created_at), typeof(status) FROM {table.name} "
                                                    f"WHERE id = {r[0]}").one()) for r in raw]
                stored.append(raw)
        assert stored[0] == stored[1] and len(stored[0]) == 120
        if backend == "sqlite":  # read back through the service's own repository: the same domain products
            with Session(engines[0]) as session:
                repository = ProductRepository(session)
                expected = [dataclasses.replace(p, name="renamed") if p.id <= 7 else p for p in products]
                assert [repository.get(p.id) for p in products] == \
                    [dataclasses.replace(p, created_at=p.created_at.astimezone(UTC),
                                         updated_at=p.updated_at.astimezone(UTC)) for p in expected]
    finally:
        if backend == "postgresql":
            for engine, table in zip(engines, tables, strict=True):
                table.metadata.drop_all(engine, tables=[table])


ITEMS = Table("items", MetaData(), Column("id", Integer, primary_key=True), Column("code", String(10), unique=True),
              Column("note", String(20), default="none"))


def _item(row: Any) -> dict[str, Any]:
    if row["CODE"] == "BAD":
        raise ValueError("CODE: rejected")
    out = {"id": row["ID"], "code": row["CODE"]}
    if row["ID"] <= 10:  # the last batch leaves `note` to the column's Python default
        out["note"] = row["NOTE"]
    return out


def test_backfill_falls_back_for_unusual_rows_and_constraint_violations(tmp_path: Path) -> None:
    """Rows without every column (SQLAlchemy's path: the Python default fills them), a unique violation in a
    batch (redone row by row, the bad row quarantined), a translation error, and a re-run."""
    source = open_engine(f"sqlite:///{tmp_path}/s.db")
    with source.begin() as conn:
        conn.execute(text("CREATE TABLE ITEMS (ID INTEGER PRIMARY KEY, CODE TEXT, NOTE TEXT)"))
        conn.execute(text("INSERT INTO ITEMS VALUES (:i, :c, :n)"),
                     [{"i": i, "c": "DUP" if i in (4, 9) else ("BAD" if i == 6 else f"C{i}"),
                       "n": f"n{i}"} for i in range(1, 13)])
    target = open_engine(f"sqlite:///{tmp_path}/t.db")
    mapping = TableMapping(source_table="ITEMS", source_key="ID", target=ITEMS, translate=_item)
    report = backfill(mapping, source, target, batch_size=5, feature="f")
    assert (report.read, report.written, report.failed) == (12, 10, 2)
    assert {r["key"] for r in report.reasons} == {6, 9}
    with target.connect() as conn:
        rows = conn.execute(select(ITEMS).order_by(ITEMS.c.id)).all()
        quarantined = conn.exec_driver_sql("SELECT row_key, reason, raw_row FROM _strangler_quarantine "
                                           "ORDER BY row_key").all()
    assert [r.id for r in rows] == [1, 2, 3, 4, 5, 7, 8, 10, 11, 12]
    assert [r.note for r in rows] == [f"n{i}" for i in (1, 2, 3, 4, 5, 7, 8, 10)] + ["none", "none"]
    assert [q.row_key for q in quarantined] == ["[6]", "[9]"]
    assert "UNIQUE constraint failed" in quarantined[1].reason and '"CODE": "DUP"' in quarantined[1].raw_row
    again = backfill(mapping, source, target, batch_size=5, feature="f", restart=True)
    assert (again.written, again.failed) == (10, 2)


def test_row_type_reads_names_case_insensitively() -> None:
    row = row_type(("prod_id", "Name"))(zip(("prod_id", "Name"), (7, "x"), strict=True))
    assert (row["PROD_ID"], row["name"], row.get("NAME"), row.get("nope", 1)) == (7, "x", "x", 1)
    assert "Prod_Id" in row and "nope" not in row and 3 not in row and dict(row) == {"prod_id": 7, "Name": "x"}
    with pytest.raises(KeyError):
        row["nope"]
    assert isinstance(row, Row) and repr(row) == "Row({'prod_id': 7, 'Name': 'x'})"

