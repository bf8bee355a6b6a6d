"""Signed shadow writes (X-Strangler-Shadow) run as dry runs: same answer, but no reservation, no release,
no order kept — checked in the monolith's STOCK/STOCK_RSV, the orders DB and the proxy's request log.
Unsigned writes run for real; forged, stale or replayed signatures are refused (403) and change nothing."""
from __future__ import annotations

import json
import time

import httpx
import pytest
from strangler_app.protocol import DRY_RUN_RESPONSE_HEADER, HEADER, sign

from tests.integration.orders.conftest import backfill_one

pytestmark = pytest.mark.integration
KEY = "orders-test-shadow-key-0123456789"  # = SHADOW_KEY in conftest (the service's STRANGLER_SHADOW_KEY)
WRITES = (("POST", "/api/inventory/reservations"), ("POST", "/api/inventory/reservations/{id}/release"),
          ("POST", "/api/inventory/reservations/{id}/consume"), ("POST", "/api/inventory/{id}/release"),
          ("POST", "/api/inventory/{id}/consume-untracked"))


def signed_post(client: httpx.Client, path: str, payload: dict | None, *, key: str = KEY,
                ts: float | None = None) -> httpx.Response:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = {HEADER: sign(key, "POST", path, body, ts=ts), "Content-Type": "application/json"}
    return client.post(path, content=body, headers=headers)


def writes(counter) -> int:
    return sum(counter[w] for w in WRITES)


def test_dry_run_place_answers_like_a_real_one_and_leaves_no_trace(orders_client, seeded, snap, calls) -> None:
    payload = {"CustomerId": seeded.customer_id, "Lines": [{"ProductId": seeded.low, "Quantity": 2},
                                                           {"ProductId": seeded.high, "Quantity": 1}]}
    before, sent = snap(), calls()
    dry = signed_post(orders_client, "/api/orders", payload)
    assert dry.status_code == 201, dry.text
    assert dry.headers.get(DRY_RUN_RESPONSE_HEADER) == "1"
    assert snap() == before
    assert writes(calls()) == writes(sent)  # no reservation POST, no release
    assert calls()[("GET", "/api/inventory/{id}")] > sent[("GET", "/api/inventory/{id}")]  # read-only check

    real = orders_client.post("/api/orders", json=payload)
    assert real.status_code == 201 and DRY_RUN_RESPONSE_HEADER not in real.headers
    strip = lambda o: {k: v for k, v in o.items() if k not in ("OrderId", "OrderDate")}
    assert strip(dry.json()) == strip(real.json())  # same lines, warehouses, prices and total
    assert orders_client.post(f"/api/orders/{real.json()['OrderId']}/cancel").status_code == 200


def test_dry_run_errors_match_real_errors(orders_client, seeded, snap) -> None:
    payload = {"CustomerId": seeded.customer_id, "Lines": [{"ProductId": seeded.high, "Quantity": 100_000}]}
    before = snap()
    dry = signed_post(orders_client, "/api/orders", payload)
    real = orders_client.post("/api/orders", json=payload)
    assert dry.status_code == real.status_code == 409
    assert dry.json() == real.json()
    assert snap() == before


def test_dry_run_cancel_and_status_change_nothing(orders_client, seeded, snap, calls) -> None:
    order = orders_client.post("/api/orders", json={"CustomerId": seeded.customer_id,
                                                    "Lines": [{"ProductId": seeded.low, "Quantity": 1}]}).json()
    before, sent = snap(), calls()
    cancel = signed_post(orders_client, f"/api/orders/{order['OrderId']}/cancel", None)
    assert cancel.status_code == 200 and cancel.json()["Status"] == "C"
    paid = signed_post(orders_client, f"/v2/orders/{order['OrderId']}/status", {"status": "paid"})
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    assert snap() == before and writes(calls()) == writes(sent)
    assert orders_client.get(f"/api/orders/{order['OrderId']}").json()["Status"] == "N"
    assert orders_client.post(f"/api/orders/{order['OrderId']}/cancel").status_code == 200


@pytest.mark.parametrize("variant", ["forged", "stale", "other body", "replayed"])
def test_bad_signatures_are_refused(variant, orders_client, seeded, snap) -> None:
    payload = {"CustomerId": seeded.customer_id, "Lines": [{"ProductId": seeded.low, "Quantity": 1}]}
    body = json.dumps(payload).encode()
    header = {"forged": sign("not-the-key-at-all-0000", "POST", "/api/orders", body),
              "stale": sign(KEY, "POST", "/api/orders", body, ts=time.time() - 3600),
              "other body": sign(KEY, "POST", "/api/orders", b"{}"),
              "replayed": sign(KEY, "POST", "/api/orders", body)}[variant]
    post = lambda: orders_client.post("/api/orders", content=body,
                                      headers={HEADER: header, "Content-Type": "application/json"})
    if variant == "replayed":
        assert post().status_code == 201  # its first use is a dry run
    before = snap()
    response = post()
    assert response.status_code == 403 and DRY_RUN_RESPONSE_HEADER not in response.headers, response.text
    assert snap() == before


def test_dry_run_ship_and_untracked_cancel_touch_no_stock(orders_client, legacy_client, stack, seeded, snap,
                                                          calls) -> None:
    order = orders_client.post("/api/orders", json={"CustomerId": seeded.customer_id,
                                                    "Lines": [{"ProductId": seeded.low, "Quantity": 1}]}).json()
    assert orders_client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "P"}).status_code == 200
    legacy = legacy_client.post("/api/orders", json={"CustomerId": seeded.customer_id,
                                                     "Lines": [{"ProductId": seeded.high, "Quantity": 1}]})
    backfill_one(stack, legacy.json()["OrderId"])  # placed before "migration": no reservation id
    before, sent = snap(), calls()
    ship = signed_post(orders_client, f"/api/orders/{order['OrderId']}/status", {"Status": "S"})
    assert ship.status_code == 200 and ship.json()["Status"] == "S"
    cancel = signed_post(orders_client, f"/api/orders/{legacy.json()['OrderId']}/cancel", None)
    assert cancel.status_code == 200 and cancel.json()["Status"] == "C"
    assert snap() == before and writes(calls()) == writes(sent)  # no consume, no untracked release
    assert orders_client.get(f"/api/orders/{order['OrderId']}").json()["Status"] == "P"
    assert orders_client.get(f"/api/orders/{legacy.json()['OrderId']}").json()["Status"] == "N"
    real_ship = orders_client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "S"})
    assert real_ship.json() == ship.json()  # the dry run answered as the real one does
    real_cancel = orders_client.post(f"/api/orders/{legacy.json()['OrderId']}/cancel")
    assert real_cancel.json() == cancel.json()
    assert writes(calls()) == writes(sent) + 2
