"""Stock operations of the orders saga against the REAL monolith and service: a reserve whose answer is lost
is found by its reference and undone; shipping consumes reservations (resuming after a failure midway);
orders placed in the monolith before migration are cancelled and shipped through the untracked operations;
service order ids come from their own range."""
from __future__ import annotations

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.integration.orders.conftest import backfill_one, legacy_rows, stock_of

pytestmark = pytest.mark.integration
RESERVE = ("POST", "/api/inventory/reservations")
RELEASE = ("POST", "/api/inventory/reservations/{id}/release")
CONSUME = ("POST", "/api/inventory/reservations/{id}/consume")
LOOKUP = ("GET", "/api/inventory/reservations")
ID_START = 10_000_000


def place(client: httpx.Client, customer: int, *lines: tuple[int, int]) -> httpx.Response:
    return client.post("/api/orders", json={"CustomerId": customer,
                                            "Lines": [{"ProductId": p, "Quantity": q} for p, q in lines]})


def test_lost_reserve_answer_is_found_by_reference_and_released(orders_client, stack, seeded, snap, hang,
                                                                 calls) -> None:
    hang(*RESERVE, forward=True)  # the monolith reserves, the answer never comes back
    released_before = legacy_rows(stack, "SELECT COUNT(*) FROM STOCK_RSV WHERE RSV_STS = 'R' AND RSV_REF LIKE 'ord-%'")
    before, sent = snap(), calls()
    response = place(orders_client, seeded.customer_id, (seeded.low, 2))
    assert response.status_code == 503 and response.json()["ErrorCode"] == "INVENTORY_UNAVAILABLE"
    assert calls()[RESERVE] - sent[RESERVE] == 1  # sent once, never retried
    assert calls()[LOOKUP] - sent[LOOKUP] >= 1  # looked up by its reference (the drain may look up older ones)
    assert calls()[RELEASE] - sent[RELEASE] == 1
    assert snap() == before  # no orphan: nothing active, nothing reserved, nothing owed, no order
    released = legacy_rows(stack, "SELECT COUNT(*) FROM STOCK_RSV WHERE RSV_STS = 'R' AND RSV_REF LIKE 'ord-%'")
    assert released[0][0] == released_before[0][0] + 1  # the very reservation it made, found by its key


def test_shipping_consumes_each_reservation(orders_client, stack, seeded, snap) -> None:
    order = place(orders_client, seeded.customer_id, (seeded.low, 2), (seeded.high, 3)).json()
    stock = {p: stock_of(stack, p) for p in (seeded.low, seeded.high)}
    placed = snap()
    path = f"/api/orders/{order['OrderId']}/status"
    assert orders_client.post(path, json={"Status": "P"}).status_code == 200
    shipped = orders_client.post(path, json={"Status": "S"})
    assert shipped.status_code == 200 and shipped.json()["Status"] == "S"
    after = snap()
    assert after.active_reservations == placed.active_reservations - 2
    assert (after.reserved_units, after.on_hand_units) == (placed.reserved_units - 5, placed.on_hand_units - 5)
    for line in order["Lines"]:
        on_hand, reserved = stock[line["ProductId"]][line["Warehouse"]]
        assert stock_of(stack, line["ProductId"])[line["Warehouse"]] == (on_hand - line["Quantity"],
                                                                          reserved - line["Quantity"])
    ids = [ln["reservation_id"] for ln in orders_client.get(f"/v2/orders/{order['OrderId']}").json()["lines"]]
    statuses = legacy_rows(stack, f"SELECT DISTINCT RSV_STS FROM STOCK_RSV WHERE RSV_ID IN ({ids[0]}, {ids[1]})")
    assert statuses == [("C",)]


def test_lost_consume_answer_is_retried_safely(orders_client, seeded, snap, hang, calls) -> None:
    order = place(orders_client, seeded.customer_id, (seeded.low, 1)).json()
    path = f"/api/orders/{order['OrderId']}/status"
    orders_client.post(path, json={"Status": "P"})
    before, sent = snap(), calls()
    hang(*CONSUME, forward=True, limit=1)  # consumed, answer lost; the retry hears "already consumed"
    shipped = orders_client.post(path, json={"Status": "S"})
    assert shipped.status_code == 200 and shipped.json()["Status"] == "S"
    assert calls()[CONSUME] - sent[CONSUME] == 2
    after = snap()
    assert (after.reserved_units, after.on_hand_units) == (before.reserved_units - 1, before.on_hand_units - 1)


def test_shipping_stopped_midway_stays_paid_and_resumes(orders_client, stack, seeded, snap, calls) -> None:
    order = place(orders_client, seeded.customer_id, (seeded.low, 1), (seeded.high, 2)).json()
    path = f"/api/orders/{order['OrderId']}/status"
    orders_client.post(path, json={"Status": "P"})
    second = orders_client.get(f"/v2/orders/{order['OrderId']}").json()["lines"][1]["reservation_id"]
    # someone released line 2's reservation behind the order's back: inventory refuses to consume it
    assert httpx.post(f"{stack.legacy_url}/api/inventory/reservations/{second}/release").status_code == 200
    before = snap()
    refused = orders_client.post(path, json={"Status": "S"})
    assert refused.status_code == 409 and refused.json()["ErrorCode"] == "SHIPMENT_INCOMPLETE"
    assert "line(s) 1 already left stock" in refused.json()["ErrorMessage"]
    assert orders_client.get(f"/api/orders/{order['OrderId']}").json()["Status"] == "P"
    after = snap()
    assert (after.on_hand_units, after.reserved_units) == (before.on_hand_units - 1, before.reserved_units - 1)
    cancel = orders_client.post(f"/v2/orders/{order['OrderId']}/cancel")
    assert cancel.status_code == 409 and cancel.json()["code"] == "ORDER_PARTIALLY_SHIPPED"
    assert cancel.json()["consumed_lines"] == [1]
    # an operator repairs the stock record (re-reserves line 2 and points the line at it); the retry then
    # consumes only what is left
    fresh = httpx.post(f"{stack.legacy_url}/api/inventory/reservations",
                       json={"ProductId": seeded.high, "Quantity": 2}).json()["ReservationId"]
    engine = create_engine(stack.orders_db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE order_lines SET reservation_id = :r WHERE order_id = :o AND line_no = 2"),
                     {"r": fresh, "o": order["OrderId"]})
    engine.dispose()
    sent = calls()
    done = orders_client.post(path, json={"Status": "S"})
    assert done.status_code == 200 and done.json()["Status"] == "S"
    assert calls()[CONSUME] - sent[CONSUME] == 1  # line 1 was not consumed twice


def test_legacy_order_backfilled_then_cancelled_restores_reserved_stock(orders_client, legacy_client, stack, seeded,
                                                                        snap, calls) -> None:
    product = seeded.low
    reserved_before = {wh: r for wh, (_, r) in stock_of(stack, product).items()}
    legacy = legacy_client.post("/api/orders", json={"CustomerId": seeded.customer_id,
                                                     "Lines": [{"ProductId": product, "Quantity": 3}]})
    assert legacy.status_code == 201
    order = legacy.json()
    assert order["OrderId"] < ID_START  # the monolith keeps its own sequence
    warehouse = order["Lines"][0]["Warehouse"]
    assert stock_of(stack, product)[warehouse][1] == reserved_before[warehouse] + 3
    backfill_one(stack, order["OrderId"])
    before = snap()
    cancelled = orders_client.post(f"/api/orders/{order['OrderId']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["Status"] == "C"
    assert {wh: r for wh, (_, r) in stock_of(stack, product).items()} == reserved_before
    ref = f"ord-{order['OrderId']}-1-release"
    assert legacy_rows(stack, "SELECT RSV_STS, QTY FROM STOCK_RSV WHERE RSV_REF = :r", r=ref) == [("R", 3)]
    after = snap()
    assert (after.owed_ops, after.active_reservations) == (before.owed_ops, before.active_reservations)
    # replaying the release (e.g. an outbox retry after a lost answer) releases nothing more
    replay = httpx.post(f"{stack.legacy_url}/api/inventory/{product}/release",
                        json={"Warehouse": warehouse, "Quantity": 3, "Reference": ref})
    assert replay.status_code == 200
    assert {wh: r for wh, (_, r) in stock_of(stack, product).items()} == reserved_before


def test_legacy_order_backfilled_then_shipped_consumes_untracked_stock(orders_client, legacy_client, stack,
                                                                       seeded) -> None:
    product = seeded.high
    legacy = legacy_client.post("/api/orders", json={"CustomerId": seeded.customer_id,
                                                     "Lines": [{"ProductId": product, "Quantity": 2}]})
    order = legacy.json()
    warehouse = order["Lines"][0]["Warehouse"]
    assert legacy_client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "P"}).status_code == 200
    backfill_one(stack, order["OrderId"])
    on_hand, reserved = stock_of(stack, product)[warehouse]
    shipped = orders_client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "S"})
    assert shipped.status_code == 200 and shipped.json()["Status"] == "S"
    assert stock_of(stack, product)[warehouse] == (on_hand - 2, reserved - 2)
    ref = f"ord-{order['OrderId']}-1-ship"
    assert legacy_rows(stack, "SELECT RSV_STS, QTY FROM STOCK_RSV WHERE RSV_REF = :r", r=ref) == [("C", 2)]


def test_service_ids_come_from_their_own_range(orders_client, legacy_client, stack, seeded) -> None:
    first = place(orders_client, seeded.customer_id, (seeded.low, 1)).json()["OrderId"]
    legacy = legacy_client.post("/api/orders", json={"CustomerId": seeded.customer_id,
                                                     "Lines": [{"ProductId": seeded.low, "Quantity": 1}]})
    second = place(orders_client, seeded.customer_id, (seeded.low, 1)).json()["OrderId"]
    assert ID_START <= first < second
    assert legacy.json()["OrderId"] < ID_START  # legacy keeps its own sequence
    for order_id in (first, second):
        assert orders_client.post(f"/api/orders/{order_id}/cancel").status_code == 200
