"""The monolith's endpoints through Flask's test client on a temporary SQLite file."""
from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

DATE = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")


def _order(client: FlaskClient, customer: int, product: int, qty: int):  # type: ignore[no-untyped-def]
    return client.post("/api/orders", json={"CustomerId": customer, "Lines": [{"ProductId": product,
                                                                                "Quantity": qty}]})


def _stock(client: FlaskClient, product: int) -> dict[str, tuple[int, int]]:
    body = client.get(f"/api/inventory/{product}").get_json()
    return {w["Warehouse"]: (w["OnHand"], w["Reserved"]) for w in body["Warehouses"]}


def _error(response, status: int, code: str) -> str:  # type: ignore[no-untyped-def]
    body = response.get_json()
    assert response.status_code == status, body
    assert body["Success"] is False and body["ErrorCode"] == code
    return body["ErrorMessage"]


def test_product_lifecycle(client: FlaskClient, shop: dict[str, int]) -> None:
    pid = shop["product"]
    product = client.get(f"/api/products/{pid}").get_json()
    assert product["UnitPrice"] == "12.50" and product["Active"] == "Y" and product["Available"] == 7
    assert DATE.match(product["Created"]) and product["Description"] is None
    updated = client.put(f"/api/products/{pid}", json={"UnitPrice": 15, "Description": "brighter"}).get_json()
    assert updated["UnitPrice"] == "15.00" and updated["Description"] == "brighter"
    assert client.post(f"/api/products/{pid}/deactivate").get_json()["Active"] == "N"
    listed = client.get("/api/products?active=N&category=ELEC&q=lamp&min_price=10&max_price=20").get_json()
    assert [p["ProductId"] for p in listed["Products"]] == [pid] and listed["Total"] == 1
    assert client.get("/api/products?active=Y").get_json()["Total"] == 0


def test_product_errors(client: FlaskClient, shop: dict[str, int]) -> None:
    _error(client.get("/api/products/999"), 404, "PRODUCT_NOT_FOUND")
    dup = {"Sku": "TST-1", "Name": "again", "Category": "ELEC", "UnitPrice": "1.00"}
    assert "TST-1" in _error(client.post("/api/products", json=dup), 409, "DUPLICATE_SKU")
    assert "UnitPrice" in _error(client.post("/api/products", json={**dup, "Sku": "X-2", "UnitPrice": "abc"}),
                                 400, "VALIDATION_ERROR")
    _error(client.put(f"/api/products/{shop['product']}", json={}), 400, "VALIDATION_ERROR")
    _error(client.put(f"/api/products/{shop['product']}", json={"Name": None}), 400, "VALIDATION_ERROR")
    assert "page_size" in _error(client.get("/api/products?page_size=0"), 400, "INVALID_QUERY")
    _error(client.get("/api/products?page=abc"), 400, "INVALID_QUERY")
    _error(client.get("/api/products?active=maybe"), 400, "INVALID_QUERY")


def test_customers_and_summary(client: FlaskClient, shop: dict[str, int]) -> None:
    cid = shop["customer"]
    assert client.get(f"/api/customers/{cid}").get_json()["Vip"] == "N"
    assert client.put(f"/api/customers/{cid}", json={"Vip": "Y", "Phone": "+44 20 7946 0000"}).get_json()["Vip"] == "Y"
    dup = {"Email": "ada@example.com", "FirstName": "A", "LastName": "L"}
    _error(client.post("/api/customers", json=dup), 409, "DUPLICATE_EMAIL")
    _error(client.post("/api/customers", json={**dup, "Email": "not-an-email"}), 400, "VALIDATION_ERROR")
    _error(client.get("/api/customers/404"), 404, "CUSTOMER_NOT_FOUND")
    empty = client.get(f"/api/customers/{cid}/summary").get_json()
    assert empty == {"CustomerId": cid, "OrderCount": 0, "TotalSpent": 0.0, "LastOrderDate": None,
                     "StatusCounts": {}}
    assert _order(client, cid, shop["product"], 2).status_code == 201
    cancelled = _order(client, cid, shop["product"], 1).get_json()["OrderId"]
    client.post(f"/api/orders/{cancelled}/cancel")
    summary = client.get(f"/api/customers/{cid}/summary").get_json()
    assert summary["OrderCount"] == 2 and summary["StatusCounts"] == {"N": 1, "C": 1}
    assert summary["TotalSpent"] == 25.0 and DATE.match(summary["LastOrderDate"])
    assert client.get("/api/customers?email=ADA@example.com").get_json()["Total"] == 1


def test_order_reserves_ships_and_cancels_stock(client: FlaskClient, shop: dict[str, int]) -> None:
    cid, pid = shop["customer"], shop["product"]
    placed = _order(client, cid, pid, 4)
    order = placed.get_json()
    assert placed.status_code == 201 and order["Status"] == "N" and order["Total"] == 50.0
    assert order["Lines"] == [{"LineNo": 1, "ProductId": pid, "Warehouse": "LON1", "Quantity": 4,
                               "UnitPrice": "12.50"}]
    assert _stock(client, pid) == {"LON1": (5, 4), "MAN1": (2, 0)}
    oid = order["OrderId"]
    assert "only next status is P" in _error(client.post(f"/api/orders/{oid}/status", json={"Status": "S"}),
                                             409, "INVALID_STATUS_TRANSITION")
    for status in "PS":
        assert client.post(f"/api/orders/{oid}/status", json={"Status": status}).get_json()["Status"] == status
    assert _stock(client, pid) == {"LON1": (1, 0), "MAN1": (2, 0)}
    _error(client.post(f"/api/orders/{oid}/cancel"), 409, "INVALID_STATUS_TRANSITION")
    second = _order(client, cid, pid, 2).get_json()
    assert second["Lines"][0]["Warehouse"] == "MAN1"
    assert client.post(f"/api/orders/{second['OrderId']}/cancel").get_json()["Status"] == "C"
    assert _stock(client, pid) == {"LON1": (1, 0), "MAN1": (2, 0)}
    listed = client.get(f"/api/orders?customer_id={cid}&page_size=1&page=2").get_json()
    assert listed["Total"] == 2 and [o["OrderId"] for o in listed["Orders"]] == [second["OrderId"]]


def test_failed_orders_leave_no_trace(client: FlaskClient, shop: dict[str, int]) -> None:
    cid, pid = shop["customer"], shop["product"]
    assert "any single warehouse" in _error(_order(client, cid, pid, 6), 409, "INSUFFICIENT_STOCK")
    # someone else's (here: no one's) CustomerId: orders are placed for the logged-in customer only
    assert "not the logged-in customer" in _error(_order(client, 999, pid, 1), 403, "NOT_YOUR_CUSTOMER_ID")
    _error(_order(client, cid, 999, 1), 422, "PRODUCT_NOT_FOUND")
    two_lines = {"CustomerId": cid, "Lines": [{"ProductId": pid, "Quantity": 5}, {"ProductId": pid, "Quantity": 2},
                                              {"ProductId": pid, "Quantity": 1}]}
    assert "Lines[2]" in _error(client.post("/api/orders", json=two_lines), 409, "INSUFFICIENT_STOCK")
    assert _stock(client, pid) == {"LON1": (5, 0), "MAN1": (2, 0)}
    assert client.get("/api/orders").get_json()["Total"] == 0
    client.post(f"/api/products/{pid}/deactivate")
    _error(_order(client, cid, pid, 1), 422, "PRODUCT_INACTIVE")


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"data": "{not json", "content_type": "application/json"}, "INVALID_JSON"),
    ({"data": ""}, "INVALID_REQUEST"),
    ({"json": [1, 2]}, "INVALID_REQUEST"),
    ({"json": {"CustomerId": 1}}, "VALIDATION_ERROR"),
    ({"json": {"CustomerId": 1, "Lines": [{"ProductId": 1, "Quantity": -1}]}}, "VALIDATION_ERROR"),
    ({"json": {"CustomerId": "one", "Lines": [{"ProductId": 1, "Quantity": 1}]}}, "VALIDATION_ERROR"),
])
def test_bad_order_bodies_get_a_400_envelope(client: FlaskClient, user: int, kwargs: dict, code: str) -> None:
    _error(client.post("/api/orders", **kwargs), 400, code)


def test_unknown_routes_and_methods_use_the_envelope(client: FlaskClient, user: int) -> None:
    _error(client.get("/nowhere"), 404, "NOT_FOUND")
    _error(client.delete("/api/products/1"), 405, "METHOD_NOT_ALLOWED")
    _error(client.get("/api/orders/77"), 404, "ORDER_NOT_FOUND")
    _error(client.post("/api/orders/77/status", json={"Status": "P"}), 404, "ORDER_NOT_FOUND")
    _error(client.post("/api/orders/77/status", json={"Status": "C"}), 400, "VALIDATION_ERROR")


def test_inventory_adjust_and_reservations(client: FlaskClient, shop: dict[str, int]) -> None:
    pid = shop["product"]
    _error(client.post(f"/api/inventory/{pid}/adjust", json={"Warehouse": "LON1", "Delta": -6, "Reason": "x"}),
           409, "INSUFFICIENT_STOCK")
    _error(client.post(f"/api/inventory/{pid}/adjust", json={"Warehouse": "ZZZ", "Delta": 1, "Reason": "x"}),
           422, "WAREHOUSE_NOT_FOUND")
    _error(client.post(f"/api/inventory/{pid}/adjust", json={"Warehouse": "LON1", "Delta": 0, "Reason": "x"}),
           400, "VALIDATION_ERROR")
    _error(client.post("/api/inventory/999/adjust", json={"Warehouse": "LON1", "Delta": 1, "Reason": "x"}),
           404, "PRODUCT_NOT_FOUND")
    _error(client.get("/api/inventory/999"), 404, "STOCK_NOT_FOUND")
    created = client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 3})
    rsv = created.get_json()
    assert created.status_code == 201 and rsv["Warehouse"] == "LON1" and rsv["Status"] == "A"
    _error(client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 3}), 409,
           "INSUFFICIENT_STOCK")
    pinned = client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 2, "Warehouse": "MAN1"})
    assert pinned.status_code == 201
    _error(client.post(f"/api/inventory/{pid}/adjust", json={"Warehouse": "LON1", "Delta": -3, "Reason": "x"}),
           409, "INSUFFICIENT_STOCK")
    assert client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/release").get_json()["Status"] == "R"
    _error(client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/release"), 409,
           "RESERVATION_NOT_ACTIVE")
    _error(client.post("/api/inventory/reservations/999/release"), 404, "RESERVATION_NOT_FOUND")
    assert _stock(client, pid) == {"LON1": (5, 0), "MAN1": (2, 2)}


def test_seeded_data_is_served_in_legacy_shape(seeded_client: FlaskClient) -> None:
    page = seeded_client.get("/api/products?page=2&page_size=10").get_json()
    assert page["Page"] == 2 and page["PageSize"] == 10 and page["Total"] == 40
    assert [p["ProductId"] for p in page["Products"]] == list(range(11, 21))
    assert all(re.fullmatch(r"\d+\.\d{2}", p["UnitPrice"]) for p in page["Products"])
    order = seeded_client.get("/api/orders/1").get_json()
    assert DATE.match(order["OrderDate"]) and isinstance(order["Total"], float)
    assert order["Total"] == pytest.approx(sum(float(ln["UnitPrice"]) * ln["Quantity"] for ln in order["Lines"]))
