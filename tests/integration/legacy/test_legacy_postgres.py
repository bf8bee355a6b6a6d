"""The same monolith on PostgreSQL (a throw-away schema): seed, serve under gunicorn, never oversell."""
from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.identity_auth import log_in, seeded_email

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

PG_URL = os.environ.get("STRANGLER_TEST_PG_URL")


@pytest.fixture(scope="module")
def pg_monolith(monolith_tools, tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[no-untyped-def]
    if not PG_URL:
        pytest.skip("set STRANGLER_TEST_PG_URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test) to run")
    seed_database, gunicorn_monolith = monolith_tools
    schema = f"legacy_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    database_url = f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    try:
        seed_database(database_url)
        log = Path(tmp_path_factory.mktemp("legacy_pg")) / "gunicorn.log"
        with gunicorn_monolith(database_url, log) as server:
            yield server, admin, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def test_seeded_postgres_serves_legacy_json(pg_monolith) -> None:  # type: ignore[no-untyped-def]
    server, _, _ = pg_monolith
    with httpx.Client(base_url=server.url, timeout=10) as client:
        page = client.get("/api/products", params={"page_size": 5}).json()
        assert page["Total"] == 50 and len(page["Products"]) == 5
        assert client.get("/api/customers/1/summary").json()["OrderCount"] >= 1
        created = client.post("/api/customers", json={"Email": "pg@example.com", "FirstName": "P", "LastName": "G"})
        assert created.status_code == 201 and created.json()["CustomerId"] == 31  # sequence moved past the seed
        log_in(client, seeded_email(1))  # orders are placed logged in, for yourself
        bad = client.post("/api/orders", json={"CustomerId": 9999, "Lines": [{"ProductId": 1, "Quantity": 1}]})
        assert bad.status_code == 403 and bad.json()["ErrorCode"] == "NOT_YOUR_CUSTOMER_ID"


def test_last_unit_is_sold_exactly_once_on_postgres(pg_monolith, race: Callable) -> None:  # type: ignore[no-untyped-def]
    server, admin, schema = pg_monolith
    with httpx.Client(base_url=server.url, timeout=10) as client:
        product = client.post("/api/products", json={"Sku": "PG-RACE", "Name": "Scarce", "Category": "TOYS",
                                                     "UnitPrice": "1.00"}).json()["ProductId"]
        assert client.post(f"/api/inventory/{product}/adjust",
                           json={"Warehouse": "EDI1", "Delta": 1, "Reason": "race"}).status_code == 200
        responses = race(server.url, [{"CustomerId": 1, "Lines": [{"ProductId": product, "Quantity": 1}]}] * 12)
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 11}
    with admin.connect() as conn:
        bad = conn.execute(text(f"SELECT COUNT(*) FROM {schema}.stock WHERE qty_rsrvd < 0 "
                                "OR qty_on_hnd < qty_rsrvd")).scalar_one()
        reserved = conn.execute(text(f"SELECT qty_rsrvd FROM {schema}.stock WHERE prod_id = :p"),
                                {"p": product}).scalar_one()
    assert bad == 0 and reserved == 1
