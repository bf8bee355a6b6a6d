"""Under real gunicorn workers, concurrent orders for the last units never oversell."""
from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

pytestmark = pytest.mark.integration


def make_scarce_product(client: httpx.Client, sku: str, stock: dict[str, int]) -> int:
    created = client.post("/api/products", json={"Sku": sku, "Name": f"Scarce {sku}", "Category": "TOYS",
                                                 "UnitPrice": "9.99"})
    assert created.status_code == 201, created.text
    product_id = created.json()["ProductId"]
    for warehouse, units in stock.items():
        adjusted = client.post(f"/api/inventory/{product_id}/adjust",
                               json={"Warehouse": warehouse, "Delta": units, "Reason": "race test"})
        assert adjusted.status_code == 200, adjusted.text
    return product_id


def assert_stock_never_negative(database_url: str) -> None:
    path = database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        bad = conn.execute("SELECT COUNT(*) FROM STOCK WHERE QTY_RSRVD < 0 OR QTY_ON_HND < QTY_RSRVD").fetchone()
    assert bad == (0,)


def test_last_unit_is_sold_exactly_once(monolith, race: Callable) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=monolith.url, timeout=10) as client:
        product_id = make_scarce_product(client, "RACE-1", {"LON1": 1})
        bodies = [{"CustomerId": 1 + i % 5, "Lines": [{"ProductId": product_id, "Quantity": 1}]} for i in range(12)]
        responses = race(monolith.url, bodies)
        statuses = Counter(r.status_code for r in responses)
        assert statuses == {201: 1, 409: 11}, [r.text for r in responses]
        assert {r.json()["ErrorCode"] for r in responses if r.status_code == 409} == {"INSUFFICIENT_STOCK"}
        inventory = client.get(f"/api/inventory/{product_id}").json()
        assert inventory["Warehouses"] == [{"Warehouse": "LON1", "OnHand": 1, "Reserved": 1, "Available": 0}]
        assert client.get(f"/api/products/{product_id}").json()["Available"] == 0
    assert_stock_never_negative(monolith.database_url)


def test_units_spread_over_warehouses_sell_exactly_once_each(monolith, race: Callable) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=monolith.url, timeout=10) as client:
        product_id = make_scarce_product(client, "RACE-2", {"LON1": 1, "MAN1": 1, "EDI1": 1})
        bodies = [{"CustomerId": 2, "Lines": [{"ProductId": product_id, "Quantity": 1}]} for _ in range(10)]
        responses = race(monolith.url, bodies)
        assert Counter(r.status_code for r in responses) == {201: 3, 409: 7}
        winners = sorted(r.json()["Lines"][0]["Warehouse"] for r in responses if r.status_code == 201)
        assert winners == ["EDI1", "LON1", "MAN1"]
        assert client.get(f"/api/inventory/{product_id}").json()["TotalAvailable"] == 0
    assert_stock_never_negative(monolith.database_url)


def test_failed_multi_line_order_rolls_back_its_earlier_reservations(monolith, race: Callable) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=monolith.url, timeout=10) as client:
        plenty = make_scarce_product(client, "RACE-3A", {"LON1": 100})
        scarce = make_scarce_product(client, "RACE-3B", {"MAN1": 1})
        bodies = [{"CustomerId": 3, "Lines": [{"ProductId": plenty, "Quantity": 2},
                                              {"ProductId": scarce, "Quantity": 1}]} for _ in range(8)]
        responses = race(monolith.url, bodies)
        assert Counter(r.status_code for r in responses) == {201: 1, 409: 7}
        assert client.get(f"/api/inventory/{plenty}").json()["Warehouses"][0]["Reserved"] == 2
    assert_stock_never_negative(monolith.database_url)
