"""On PostgreSQL, concurrent requests with one Reference reserve exactly once (the unique RSV_REF decides;
losers answer 200 with the winner's reservation) — SQLite serialises writers, so only PG exercises this."""
from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from legacy_monolith import create_app

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
PG_URL = os.environ.get("STRANGLER_TEST_PG_URL")


@pytest.fixture(scope="module")
def pg_app() -> Iterator[Flask]:
    if not PG_URL:
        pytest.skip("set STRANGLER_TEST_PG_URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test) to run")
    schema = f"inv_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in PG_URL else "?"
    app = create_app({"LEGACY_DATABASE_URL": f"{PG_URL}{separator}options=-csearch_path%3D{schema}"})
    try:
        yield app
    finally:
        app.extensions["legacy_monolith.engine"].dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def test_racing_replays_of_one_reference_reserve_once(pg_app: Flask) -> None:
    setup = pg_app.test_client()
    pid = setup.post("/api/products", json={"Sku": "PG-REF", "Name": "Keyed", "Category": "TOYS",
                                            "UnitPrice": "1.00"}).get_json()["ProductId"]
    setup.post(f"/api/inventory/{pid}/adjust", json={"Warehouse": "LON1", "Delta": 50, "Reason": "race"})
    body = {"ProductId": pid, "Quantity": 2, "Reference": "race-key-1"}
    barrier, answers = threading.Barrier(8), []

    def worker() -> None:
        client = pg_app.test_client()
        barrier.wait()
        answers.append(client.post("/api/inventory/reservations", json=body))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert Counter(r.status_code for r in answers) == {201: 1, 200: 7}, [r.get_json() for r in answers]
    assert len({r.get_json()["ReservationId"] for r in answers}) == 1
    stock = setup.get(f"/api/inventory/{pid}").get_json()["Warehouses"]
    assert stock == [{"Warehouse": "LON1", "OnHand": 50, "Reserved": 2, "Available": 48}]
