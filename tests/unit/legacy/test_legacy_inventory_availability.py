"""GET /api/inventory/availability?ids=…: the batch endpoint the catalog service reads availability through.

Same numbers as the per-product endpoint and the monolith's own product answers; bounded id count; bad input
is a legacy-envelope 400, never a 5xx."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from legacy_monolith.inventory.schemas import MAX_AVAILABILITY_IDS
from legacy_monolith.openapi import build_openapi


def test_totals_match_the_product_answers_in_asked_order(seeded_client: FlaskClient) -> None:
    ids = [7, 3, 40, 3, 1]
    response = seeded_client.get("/api/inventory/availability", query_string={"ids": ",".join(map(str, ids))})
    assert response.status_code == 200, response.get_json()
    rows = response.get_json()["Availability"]
    assert [r["ProductId"] for r in rows] == [7, 3, 40, 1]  # duplicates answered once
    for row in rows:
        product = seeded_client.get(f"/api/products/{row['ProductId']}").get_json()
        assert row["TotalAvailable"] == product["Available"]


def test_product_without_stock_rows_has_zero(client: FlaskClient, shop: dict[str, int]) -> None:
    bare = client.post("/api/products", json={"Sku": "TST-2", "Name": "No stock", "Category": "ELEC",
                                              "UnitPrice": "1.00"}).get_json()["ProductId"]
    assert client.get(f"/api/inventory/{bare}").status_code == 404  # the per-product endpoint: STOCK_NOT_FOUND
    body = client.get(f"/api/inventory/availability?ids={shop['product']},{bare},99999").get_json()
    assert body == {"Availability": [{"ProductId": shop["product"], "TotalAvailable": 7},
                                     {"ProductId": bare, "TotalAvailable": 0},
                                     {"ProductId": 99999, "TotalAvailable": 0}]}


def test_reserved_units_are_not_available(client: FlaskClient, shop: dict[str, int]) -> None:
    reserved = client.post("/api/inventory/reservations", json={"ProductId": shop["product"], "Quantity": 3})
    assert reserved.status_code == 201
    body = client.get(f"/api/inventory/availability?ids={shop['product']}").get_json()
    assert body["Availability"] == [{"ProductId": shop["product"], "TotalAvailable": 4}]


def test_the_largest_batch_is_answered(seeded_client: FlaskClient) -> None:
    ids = ",".join(str(i) for i in range(1, MAX_AVAILABILITY_IDS + 1))
    response = seeded_client.get(f"/api/inventory/availability?ids={ids}")
    assert response.status_code == 200
    assert len(response.get_json()["Availability"]) == MAX_AVAILABILITY_IDS


@pytest.mark.parametrize("query", [
    "", "?ids=", "?ids=,", "?ids=1,,2", "?ids=abc", "?ids=1,x", "?ids=0", "?ids=-1", "?ids=1.5",
    f"?ids={2**31}", f"?ids={2**63}", "?ids=" + "9" * 5000, "?other=1",
    "?ids=" + ",".join(str(i) for i in range(1, MAX_AVAILABILITY_IDS + 2)),
])
def test_bad_input_is_a_400_envelope(client: FlaskClient, query: str) -> None:
    response = client.get("/api/inventory/availability" + query)
    assert response.status_code == 400, (query, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["Success"] is False and body["ErrorCode"] == "INVALID_QUERY", body
    assert "ids" in body["ErrorMessage"]


def test_the_contract_declares_it() -> None:
    operation = build_openapi()["paths"]["/api/inventory/availability"]["get"]
    assert set(operation["responses"]) >= {"200", "400"}
    (param,) = operation["parameters"]
    assert param["name"] == "ids" and param["required"] is True
