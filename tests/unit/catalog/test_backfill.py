"""Backfill engine + catalog mapping on SQLite files: translation, skips with reasons, idempotent upserts,
ownership file, and the CLI command."""
import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from acl.catalog.mapping import PRODUCTS
from new_services.catalog.models import products_table
from strangler.migrate.engine import backfill, open_engine

DDL = """CREATE TABLE PRODUCTS (PROD_ID INTEGER PRIMARY KEY, PROD_SKU VARCHAR(20) UNIQUE, PROD_NM VARCHAR(120),
PROD_DESC TEXT, CAT_CD VARCHAR(10), UNIT_PRC NUMERIC(10,2), ACTV_FLG CHAR(1), CRT_DT VARCHAR(16),
UPD_DT VARCHAR(16))"""
ROWS = [
    (1, "SKU-000001", "Lamp", None, "ELEC", "12.50", "Y", "01/02/2023 10:00", "01/07/2023 10:00"),
    (2, "SKU-000002", "Saw", "sharp", "TOOLS", "3.99", "N", "26/03/2023 01:30", "02/02/2023 10:00"),  # DST gap
    (3, "sku-3", "Bad", None, "TOOLS", "1.00", "Y", "01/02/2023 10:00", "01/02/2023 10:00"),  # lower-case SKU
    (4, "SKU-000004", "Kettle", "", "KITCHEN", "0.00", "Y", "29/10/2023 01:30", "29/10/2023 01:59"),
] + [(n, f"SKU-{n:06d}", f"Item {n}", None, "TOYS", "1.00", "Y", "01/01/2024 00:00", "01/01/2024 00:00")
     for n in range(5, 26)]


@pytest.fixture
def legacy_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/legacy.db"
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text(DDL))
        conn.execute(text("INSERT INTO PRODUCTS VALUES (:a,:b,:c,:d,:e,:f,:g,:h,:i)"),
                      [dict(zip("abcdefghi", row, strict=True)) for row in ROWS])
    engine.dispose()
    return url


def test_backfill_translates_skips_and_is_idempotent(legacy_url: str, tmp_path: Path) -> None:
    source, target = open_engine(legacy_url), open_engine(f"sqlite:///{tmp_path}/catalog.db")
    report = backfill(PRODUCTS, source, target, batch_size=4)
    assert (report.total, report.read, report.written, report.failed) == (25, 25, 23, 2)
    assert {r["key"]: r["field"] for r in report.reasons} == {2: "CRT_DT", 3: "PROD_SKU"}
    with target.connect() as conn:
        lamp = conn.execute(select(products_table).where(products_table.c.id == 1)).mappings().one()
    assert (lamp["sku"], lamp["price_minor"], lamp["currency"], lamp["status"]) == ("SKU-000001", 1250, "GBP",
                                                                                  "active")
    assert lamp["created_at"].hour == 10 and lamp["updated_at"].hour == 9  # winter GMT, summer BST → UTC

    with source.begin() as conn:
        conn.execute(text("UPDATE PRODUCTS SET PROD_NM = 'Big Lamp', UNIT_PRC = 13 WHERE PROD_ID = 1"))
    done = backfill(PRODUCTS, source, target, batch_size=100)
    assert done.already_complete and done.read_this_run == 0  # checkpoint: finished, nothing re-read
    again = backfill(PRODUCTS, source, target, batch_size=100, restart=True)
    assert (again.written, again.failed) == (23, 2)
    with target.connect() as conn:
        assert conn.execute(select(products_table.c.name, products_table.c.price_minor)
                            .where(products_table.c.id == 1)).one() == ("Big Lamp", 1300)
        assert conn.execute(text("SELECT COUNT(*) FROM products")).scalar() == 23


def test_cli_backfill_writes_ownership(legacy_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from strangler.cli import migrate  # noqa: F401 - registers `migrate`
    from strangler.cli.app import app

    monkeypatch.setenv("LEGACY_DATABASE_URL", legacy_url)
    monkeypatch.setenv("CATALOG_DATABASE_URL", f"sqlite:///{tmp_path}/cat.db")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    config = Path(__file__).resolve().parents[3] / "config" / "migrations.yaml"
    result = CliRunner().invoke(app, ["migrate", "backfill", "catalog", "--batch-size", "10", "--json",
                                      "--config", str(config)])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["tables"][0]["written"] == 23 and report["tables"][0]["failed"] == 2
    ownership = json.loads((tmp_path / "var" / "ownership.json").read_text())
    feature = ownership["features"]["catalog"]
    assert feature["writes_owner"] == "legacy"
    assert feature["tables"]["PRODUCTS"]["rows"] == 23 and feature["tables"]["PRODUCTS"]["backfilled_at"]

    unknown = CliRunner().invoke(app, ["migrate", "backfill", "nope", "--config", str(config)])
    assert unknown.exit_code == 2 and "known: catalog" in unknown.output
    strict = CliRunner().invoke(app, ["migrate", "backfill", "catalog", "--strict", "--config", str(config)])
    assert strict.exit_code == 1
