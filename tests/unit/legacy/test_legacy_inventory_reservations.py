"""Inventory hardening in the monolith: idempotent reservations (Reference), consuming on ship, and the
untracked release/consume for stock that legacy orders reserved without a STOCK_RSV row."""
from __future__ import annotations

from flask.testing import FlaskClient


def _stock(client: FlaskClient, pid: int) -> dict[str, tuple[int, int]]:
    warehouses = client.get(f"/api/inventory/{pid}").get_json()["Warehouses"]
    return {w["Warehouse"]: (w["OnHand"], w["Reserved"]) for w in warehouses}


def _error(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_json()
    assert response.get_json()["ErrorCode"] == code


def test_same_reference_reserves_once_and_is_found_by_it(client: FlaskClient, shop: dict[str, int]) -> None:
    pid = shop["product"]
    body = {"ProductId": pid, "Quantity": 2, "Reference": "orders-abc-1"}
    first = client.post("/api/inventory/reservations", json=body)
    assert first.status_code == 201 and first.get_json()["Reference"] == "orders-abc-1"
    replay = client.post("/api/inventory/reservations", json=body)
    assert replay.status_code == 200 and replay.get_json() == first.get_json()
    assert _stock(client, pid) == {"LON1": (5, 2), "MAN1": (2, 0)}  # reserved once
    _error(client.post("/api/inventory/reservations", json={**body, "Quantity": 3}), 409, "REFERENCE_CONFLICT")
    _error(client.post("/api/inventory/reservations", json={**body, "Warehouse": "MAN1"}), 409, "REFERENCE_CONFLICT")
    found = client.get("/api/inventory/reservations", query_string={"reference": "orders-abc-1"}).get_json()
    assert found["Total"] == 1 and found["Reservations"] == [first.get_json()]
    assert client.get("/api/inventory/reservations", query_string={"reference": "never-sent"}).get_json()["Total"] == 0
    _error(client.get("/api/inventory/reservations", query_string={"reference": "has space"}), 400, "INVALID_QUERY")
    _error(client.post("/api/inventory/reservations", json={**body, "Reference": "x" * 65}), 400, "VALIDATION_ERROR")
    # a released reservation replays as it is now; it is never reserved again
    client.post(f"/api/inventory/reservations/{first.get_json()['ReservationId']}/release")
    again = client.post("/api/inventory/reservations", json=body)
    assert again.status_code == 200 and again.get_json()["Status"] == "R"
    assert _stock(client, pid) == {"LON1": (5, 0), "MAN1": (2, 0)}
    plain = client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 1})
    assert plain.status_code == 201 and plain.get_json()["Reference"] is None  # the key stays optional


def test_consume_takes_units_out_of_stock_only_from_active(client: FlaskClient, shop: dict[str, int]) -> None:
    pid = shop["product"]
    rsv = client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 3}).get_json()
    consumed = client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/consume")
    assert consumed.status_code == 200 and consumed.get_json()["Status"] == "C"
    assert _stock(client, pid) == {"LON1": (2, 0), "MAN1": (2, 0)}
    _error(client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/consume"), 409, "RESERVATION_CONSUMED")
    _error(client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/release"), 409, "RESERVATION_CONSUMED")
    released = client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 1}).get_json()
    client.post(f"/api/inventory/reservations/{released['ReservationId']}/release")
    _error(client.post(f"/api/inventory/reservations/{released['ReservationId']}/consume"), 409,
           "RESERVATION_NOT_ACTIVE")
    _error(client.post("/api/inventory/reservations/999/consume"), 404, "RESERVATION_NOT_FOUND")
    assert _stock(client, pid) == {"LON1": (2, 0), "MAN1": (2, 0)}
    listed = client.get("/api/inventory/reservations", query_string={"product_id": pid, "status": "C"}).get_json()
    assert [r["ReservationId"] for r in listed["Reservations"]] == [rsv["ReservationId"]]


def test_untracked_release_and_consume_of_a_legacy_order(client: FlaskClient, shop: dict[str, int]) -> None:
    pid = shop["product"]
    order = client.post("/api/orders", json={"CustomerId": shop["customer"],
                                             "Lines": [{"ProductId": pid, "Quantity": 4}]}).get_json()
    assert order["Lines"][0]["Warehouse"] == "LON1" and _stock(client, pid)["LON1"] == (5, 4)
    tracked = client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 1, "Warehouse": "LON1"})
    assert tracked.status_code == 201  # LON1 now holds 4 untracked + 1 tracked units
    move = {"Warehouse": "LON1", "Quantity": 3, "Reference": f"orders-{order['OrderId']}-1-cancel"}
    first = client.post(f"/api/inventory/{pid}/release", json=move)
    assert first.status_code == 201 and first.get_json()["Status"] == "R"
    assert client.post(f"/api/inventory/{pid}/release", json=move).get_json() == first.get_json()
    assert _stock(client, pid)["LON1"] == (5, 2)  # released once, not twice
    # only 1 untracked unit is left: the tracked reservation's unit is never taken
    _error(client.post(f"/api/inventory/{pid}/release", json={**move, "Quantity": 2, "Reference": "r-2"}), 409,
           "INSUFFICIENT_RESERVED")
    _error(client.post(f"/api/inventory/{pid}/consume-untracked", json=move), 409, "REFERENCE_CONFLICT")
    ship = {"Warehouse": "LON1", "Quantity": 1, "Reference": "ship-1"}
    shipped = client.post(f"/api/inventory/{pid}/consume-untracked", json=ship)
    assert shipped.status_code == 201 and shipped.get_json()["Status"] == "C"
    assert client.post(f"/api/inventory/{pid}/consume-untracked", json=ship).status_code == 200
    assert _stock(client, pid)["LON1"] == (4, 1)  # on hand and reserved both went down, once
    _error(client.post(f"/api/inventory/{pid}/release", json={**move, "Reference": "r-3", "Quantity": 1}), 409,
           "INSUFFICIENT_RESERVED")
    _error(client.post(f"/api/inventory/{pid}/release", json={**move, "Warehouse": "ZZZ", "Reference": "r-4"}), 422,
           "WAREHOUSE_NOT_FOUND")
    _error(client.post(f"/api/inventory/{pid}/release", json={**move, "Warehouse": "EDI1", "Reference": "r-5"}), 404,
           "STOCK_NOT_FOUND")
    _error(client.post(f"/api/inventory/{pid}/release", json={"Warehouse": "LON1", "Quantity": 1}), 400,
           "VALIDATION_ERROR")  # the Reference is what makes it safe to retry: required
