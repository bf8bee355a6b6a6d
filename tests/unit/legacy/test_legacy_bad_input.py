"""Bad input is a legacy-envelope 4xx, never a 500: ids no column can hold, huge query values, huge body ids.

Found by schemathesis against /openapi.json (OverflowError → 500 INTERNAL_ERROR before the fix)."""
from __future__ import annotations

import pytest
from flask.testing import FlaskClient

HUGE = str(2**63)          # beyond SQLite's 64-bit INTEGER: OverflowError when bound
BEYOND = str(2**31)        # beyond PostgreSQL's INTEGER: "integer out of range"
GIANT = "9" * 5000         # more digits than int() converts by default

PATHS = [f"/api/{what}/{ident}" for what in ("products", "orders", "customers", "inventory")
         for ident in (HUGE, BEYOND, "-1", "abc", GIANT, str(10**30))]
QUERIES = ["/api/products?page=" + str(10**30), "/api/products?page_size=" + str(10**30),
           "/api/products?page=-1", "/api/products?page=abc", "/api/orders?customer_id=" + HUGE,
           "/api/orders?customer_id=" + BEYOND, "/api/inventory/reservations?product_id=" + HUGE,
           "/api/customers?page=" + str(10**30)]
WRITES = [("post", f"/api/products/{HUGE}/deactivate", None), ("put", f"/api/products/{HUGE}", {"Name": "x"}),
          ("post", f"/api/orders/{HUGE}/cancel", None), ("post", f"/api/orders/{BEYOND}/status", {"Status": "P"}),
          ("post", f"/api/inventory/reservations/{HUGE}/release", None),
          ("post", "/api/orders", {"CustomerId": int(HUGE), "Lines": [{"ProductId": 1, "Quantity": 1}]}),
          ("post", "/api/orders", {"CustomerId": 1, "Lines": [{"ProductId": int(BEYOND), "Quantity": 1}]}),
          ("post", "/api/inventory/reservations", {"ProductId": int(HUGE), "Warehouse": "LON1", "Quantity": 1})]


def _assert_envelope_4xx(response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["Success"] is False and body["ErrorCode"] != "INTERNAL_ERROR", body


@pytest.mark.parametrize("path", PATHS + QUERIES)
def test_bad_reads_are_4xx(client: FlaskClient, user: int, path: str) -> None:  # logged in: past the 401 gate
    _assert_envelope_4xx(client.get(path))


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_bad_writes_are_4xx(client: FlaskClient, user: int, method: str, path: str, body: dict | None) -> None:
    _assert_envelope_4xx(getattr(client, method)(path, json=body))


def test_an_id_out_of_range_is_no_such_endpoint_and_the_largest_is_a_lookup(client: FlaskClient) -> None:
    beyond = client.get(f"/api/products/{BEYOND}").get_json()
    assert beyond["ErrorCode"] == "NOT_FOUND" and beyond["ErrorMessage"].startswith("no such endpoint")
    largest = client.get(f"/api/products/{2**31 - 1}")
    assert largest.status_code == 404 and largest.get_json()["ErrorCode"] == "PRODUCT_NOT_FOUND"


def test_every_id_in_a_route_uses_the_bounded_converter(app) -> None:
    from legacy_monolith.validation import IdConverter

    unbounded = [(rule.rule, name) for rule in app.url_map.iter_rules()
                 for name, converter in rule._converters.items()
                 if name.endswith("id") and not isinstance(converter, IdConverter)]
    assert unbounded == [], "use <id:…> for ids in routes (legacy_monolith/validation.py)"
