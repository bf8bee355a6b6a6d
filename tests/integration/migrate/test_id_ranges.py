"""Identifiers that cannot collide (issue 15): the catalog service hands out ProductIds from CATALOG_ID_START
up, legacy's own next id stays below that even after reverse sync copied service ids into PRODUCTS, the service
refuses to start when legacy ids reached the range, and `migrate status` reports the range — SQLite and
PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from legacy_monolith.app import create_app as create_legacy
from new_services.catalog.app import create_app
from new_services.catalog.settings import DEFAULT_ID_START, CatalogSettings
from new_services.common.db import make_engine
from new_services.orders.models import Base as OrdersBase
from strangler.migrate import capture
from strangler.migrate.db import reset_sequence
from strangler.migrate.engine import backfill
from strangler.migrate.feature import open_feature
from strangler.migrate.sync import drain
from strangler.procs import free_port
from tests.integration.migrate.conftest import CONFIG, ROOT, Databases, seed_legacy, strangler

pytestmark = pytest.mark.integration

SHADOW_KEY = "id-range-test-shadow-key-0123456789"


class NoStock:
    def available(self, product_ids: Iterable[int]) -> dict[int, int]:
        return dict.fromkeys(product_ids, 0)

    def close(self) -> None:
        pass


def _product(sku: str) -> dict[str, str]:
    return {"Sku": sku, "Name": "Range test", "Category": "TOOLS", "UnitPrice": "3.50"}


def _backfilled(dbs: Databases, products: int):
    seed_legacy(dbs.legacy_url, products)
    runtime = open_feature(CONFIG, "catalog", dbs.var_dir)
    backfill(runtime.mappings[0], runtime.source, runtime.target, feature="catalog")
    return runtime


def _range(dbs: Databases, **env: str) -> dict:
    status = json.loads(strangler("migrate", "status", "catalog", "--json", env={**dbs.env, **env}).stdout)
    [check] = status["features"][0]["id_ranges"]
    return check


def test_service_ids_come_from_its_range_and_legacy_stays_below_after_reverse_sync(dbs: Databases) -> None:
    rt = _backfilled(dbs, 20)
    capture.install(rt.target, rt.capture_specs("service"))
    settings = CatalogSettings(shadow_key=SHADOW_KEY, database_url=dbs.catalog_url, var_dir=dbs.var_dir)
    with TestClient(create_app(settings, availability=NoStock())) as service:
        ids = [service.post("/api/products", json=_product(f"RNG-{n}")).json()["ProductId"] for n in range(2)]
    assert ids == [DEFAULT_ID_START, DEFAULT_ID_START + 1]

    assert drain("catalog", "reverse", rt.routes("reverse"), rt.target, rt.source).upserted == 2
    with rt.source.connect() as conn:
        assert conn.execute(text("SELECT MAX(PROD_ID) FROM PRODUCTS")).scalar() == DEFAULT_ID_START + 1
    reset_sequence(rt.source, rt.routes("reverse")[0].write_table)  # what a handover back to legacy does
    legacy = create_legacy({"LEGACY_DATABASE_URL": dbs.legacy_url}).test_client()
    created = legacy.post("/api/products", json=_product("LEG-1"))
    assert created.status_code == 201 and created.get_json()["ProductId"] == 21  # legacy's own sequence

    check = _range(dbs)
    assert (check["level"], check["range_start"], check["legacy_max"], check["legacy_ids_in_range"]) == \
        ("ok", DEFAULT_ID_START, 21, [])
    if dbs.backend == "postgres":
        assert check["legacy_next_id"] == 22  # the serial sequence, not moved by the reverse-synced ids
    rt.dispose()


def test_legacy_ids_reaching_the_range_stop_the_service_and_show_in_status(dbs: Databases) -> None:
    _backfilled(dbs, 30).dispose()
    env = {**dbs.env, "CATALOG_ID_START": "25", "STRANGLER_SHADOW_KEY": SHADOW_KEY}
    started = subprocess.run([sys.executable, "-m", "new_services.catalog", "--port", str(free_port())], cwd=ROOT,
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2, started.stderr
    assert "legacy ProductId 30 is at or above CATALOG_ID_START=25" in started.stderr
    assert "Fix: set CATALOG_ID_START above 30" in started.stderr and "Traceback" not in started.stderr

    check = _range(dbs, CATALOG_ID_START="25")
    assert check["level"] == "error" and check["legacy_ids_in_range"] == [25, 26, 27, 28, 29]
    assert "CATALOG_ID_START=25" in check["problem"] and "highest 30" in check["problem"]
    table = strangler("migrate", "status", "catalog", env={**dbs.env, "CATALOG_ID_START": "25"}).stdout
    assert "error: catalog: legacy holds 6 PRODUCTS id(s)" in " ".join(table.split())
    assert _range(dbs, CATALOG_ID_START="32")["level"] == "warning"  # 30 is within 10% of 32
    invalid = _range(dbs, CATALOG_ID_START="abc")  # one line naming the setting, not a traceback
    assert invalid["level"] == "error" and invalid["problem"].startswith("CATALOG_ID_START: ")


def test_legacy_order_ids_reaching_the_range_stop_the_orders_service(dbs: Databases) -> None:
    """The orders service checks its range at start too (rows reach its table from the monolith only)."""
    orders_url = dbs.catalog_url  # a fresh service database of this backend; the orders tables live apart
    engine = make_engine(orders_url)
    try:
        OrdersBase.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO orders (id, customer_id, status, placed_at, total_minor, currency) "
                              "VALUES (40, 1, 'pending', '2024-01-02 10:00:00', 100, 'GBP')"))
    finally:
        engine.dispose()
    env = {**dbs.env, "ORDERS_DATABASE_URL": orders_url, "ORDERS_ID_START": "35",
           "STRANGLER_SHADOW_KEY": SHADOW_KEY, "STRANGLER_IDENTITY_KEY": SHADOW_KEY}
    started = subprocess.run([sys.executable, "-m", "new_services.orders", "--port", str(free_port())], cwd=ROOT,
                             env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2, started.stderr
    assert "legacy OrderId 40 is at or above ORDERS_ID_START=35" in started.stderr
    assert "Fix: set ORDERS_ID_START above 40" in started.stderr and "Traceback" not in started.stderr
