"""The services' legacy and /v2 routes answer bad input with a 4xx (legacy envelope or problem), never a 500.

Ids no INTEGER column can hold used to reach the database (OverflowError → 500 INTERNAL_ERROR, then a closed
connection). One bound (new_services/common/types.MAX_ID) serves the legacy id parser and the /v2 path type."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from new_services.orders.app import create_app as create_orders_app
from new_services.orders.settings import OrdersSettings
from tests.identity_auth import IDENTITY_KEY, SignedIdentity
from tests.unit.catalog.conftest import SHADOW_KEY

HUGE, BEYOND, GIANT = str(2**63), str(2**31), "9" * 5000
IDS = (HUGE, BEYOND, "-1", "abc", GIANT, str(10**30))

CATALOG = ([("get", f"/api/products/{i}", None) for i in IDS]
           + [("get", f"/v2/products/{i}", None) for i in IDS]
           + [("put", f"/api/products/{HUGE}", {"Name": "x"}), ("post", f"/api/products/{HUGE}/deactivate", None),
              ("patch", f"/v2/products/{HUGE}", {"name": "x"}), ("post", f"/v2/products/{BEYOND}/deactivate", None),
              ("get", f"/api/products?page={10**30}", None), ("get", f"/api/products?page_size={10**30}", None),
              ("get", "/api/products?page=abc", None), ("get", f"/v2/products?limit={10**30}", None),
              ("get", "/v2/products?cursor=" + "A" * 50, None)])
ORDERS = ([("get", f"/api/orders/{i}", None) for i in IDS]
          + [("get", f"/v2/orders/{i}", None) for i in IDS]
          + [("post", f"/api/orders/{HUGE}/cancel", None), ("post", f"/api/orders/{BEYOND}/status", {"Status": "P"}),
             ("post", f"/v2/orders/{HUGE}/cancel", None), ("get", f"/api/orders?customer_id={HUGE}", None),
             ("get", f"/api/orders?page={10**30}", None), ("get", f"/v2/orders?customer_id={HUGE}", None),
             ("post", "/api/orders", {"CustomerId": int(HUGE), "Lines": [{"ProductId": 1, "Quantity": 1}]}),
             ("post", "/api/orders", {"CustomerId": 1, "Lines": [{"ProductId": int(BEYOND), "Quantity": 1}]}),
             ("post", "/v2/orders", {"customer_id": int(HUGE), "lines": [{"product_id": 1, "quantity": 1}]})])


@pytest.fixture
def orders_client(tmp_path: Path) -> Iterator[TestClient]:
    # Collaborators point at a closed port: none of these requests may get as far as calling them.
    settings = OrdersSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/orders.db",
                              var_dir=tmp_path, legacy_base_url="http://127.0.0.1:9", identity_key=IDENTITY_KEY)
    with TestClient(create_orders_app(settings)) as client:
        client.auth = SignedIdentity(1)  # logged in: the bad input must get past the 401, as from the façade
        yield client


def _assert_4xx(response, path: str) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    if path.startswith("/api/"):
        assert body["Success"] is False and body["ErrorCode"] != "INTERNAL_ERROR", body
    else:
        assert response.headers["content-type"] == "application/problem+json" and body["status"] < 500


@pytest.mark.parametrize(("method", "path", "body"), CATALOG)
def test_catalog_bad_input_is_4xx(client: TestClient, method: str, path: str, body: dict | None) -> None:
    _assert_4xx(client.request(method.upper(), path, json=body), path)


@pytest.mark.parametrize(("method", "path", "body"), ORDERS)
def test_orders_bad_input_is_4xx(orders_client: TestClient, method: str, path: str, body: dict | None) -> None:
    _assert_4xx(orders_client.request(method.upper(), path, json=body), path)


@pytest.mark.parametrize("query", ["min_price=1e400", "max_price=1e400", "min_price=1e30", "max_price=1e-400"])
def test_huge_price_filters_answer_like_the_monolith(client: TestClient, query: str) -> None:
    """The monolith answers these with a page (empty, or everything): the service must too, not a 500."""
    assert client.post("/v2/products", json={"sku": "P-1", "name": "n", "category": "C", "price": "99999999.99"}
                       ).status_code == 201
    page = client.get(f"/api/products?{query}")
    assert page.status_code == 200, page.text
    assert page.json()["Total"] == (1 if query == "max_price=1e400" else 0)


def test_legacy_id_out_of_range_is_no_such_endpoint_like_the_monolith(client: TestClient) -> None:
    body = client.get(f"/api/products/{BEYOND}").json()
    assert body == {"Success": False, "ErrorCode": "NOT_FOUND",
                    "ErrorMessage": f"no such endpoint: GET /api/products/{BEYOND}"}
    assert client.get(f"/api/products/{2**31 - 1}").json()["ErrorCode"] == "PRODUCT_NOT_FOUND"
