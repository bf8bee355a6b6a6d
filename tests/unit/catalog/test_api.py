"""Native /v2 API behaviour and RFC 9457 problem details; legacy envelope on /api paths."""
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from new_services.common.problems import PROBLEM_JSON
from tests.thread_hops import count_thread_hops


def _create(client: TestClient, sku: str, **extra) -> dict:
    response = client.post("/v2/products", json={"sku": sku, "name": f"Item {sku}", "category": "TOOLS",
                                                 "price": "5.00", **extra})
    assert response.status_code == 201, response.text
    assert response.headers["Location"] == f"/v2/products/{response.json()['id']}"
    return response.json()


def test_create_get_update_deactivate(client: TestClient) -> None:
    product = _create(client, "SKU-1", description="d")
    assert product["price"] == "5.00" and product["price_minor"] == 500 and product["status"] == "active"
    assert product["created_at"].endswith("Z") or product["created_at"].endswith("+00:00")
    pid = product["id"]
    updated = client.patch(f"/v2/products/{pid}", json={"price": "6.25", "description": None}).json()
    assert updated["price_minor"] == 625 and updated["description"] is None
    assert client.post(f"/v2/products/{pid}/deactivate").json()["status"] == "inactive"
    assert client.get(f"/v2/products/{pid}").json()["status"] == "inactive"


def test_cursor_pagination_visits_every_product_once(client: TestClient) -> None:
    ids = [_create(client, f"SKU-{n}")["id"] for n in range(7)]
    seen, cursor = [], None
    while True:
        page = client.get("/v2/products", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] == "about:blank"
    return body


def test_problem_details(client: TestClient) -> None:
    _create(client, "DUP-1")
    assert _problem(client.get("/v2/products/999"), 404)["code"] == "PRODUCT_NOT_FOUND"
    assert _problem(client.post("/v2/products", json={"sku": "DUP-1", "name": "x", "category": "TOOLS",
                                                      "price": "1"}), 409)["code"] == "DUPLICATE_SKU"
    invalid = _problem(client.post("/v2/products", json={"sku": "ok-lower", "name": "x", "category": "TOOLS",
                                                         "price": "1"}), 422)
    assert invalid["field"] == "sku"
    missing = _problem(client.post("/v2/products", json={"name": "x"}), 422)
    assert any(error["loc"][-1] == "sku" for error in missing["errors"])
    assert _problem(client.get("/v2/products", params={"cursor": "not-a-cursor"}), 400)["code"] == "INVALID_CURSOR"
    _problem(client.get("/v2/nothing-here"), 404)
    _problem(client.delete("/v2/products"), 405)


def test_legacy_paths_use_the_legacy_envelope(client: TestClient) -> None:
    response = client.get("/api/products/12345")
    assert response.status_code == 404
    assert response.json() == {"Success": False, "ErrorCode": "PRODUCT_NOT_FOUND",
                               "ErrorMessage": "product 12345 does not exist"}
    bad = client.get("/api/products", params={"page_size": 0})
    assert bad.status_code == 400 and bad.json()["ErrorCode"] == "INVALID_QUERY"


def test_legacy_create_then_read_back(client: TestClient) -> None:
    created = client.post("/api/products", json={"Sku": "L-1", "Name": "  Lamp ", "Category": "ELEC",
                                                 "UnitPrice": "19.999"})
    assert created.status_code == 201
    body = created.json()
    assert (body["Name"], body["UnitPrice"], body["Active"], body["Available"]) == ("Lamp", "20.00", "Y", 0)
    again = client.get(f"/api/products/{body['ProductId']}").json()
    assert again["Available"] == 7 and again["Created"] == body["Created"]
    listed = client.get("/api/products", params={"q": "LAMP"}).json()
    assert listed["Total"] == 1 and listed["Products"][0]["Sku"] == "L-1" and "ServerTime" in listed


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "service": "catalog", "database": "ok"}


def test_legacy_calls_take_one_thread_hop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The legacy and /v2 reads and writes hand their blocking work to the thread pool once per request: a sync
    handler with a session dependency hopped three times (dependency enter, handler, dependency exit) through
    anyio's workers, which cost more CPU than the queries (issue 21), and held a dry run's connection in a
    request waiting for a thread. Every hop is counted, whichever pool."""
    created = client.post("/api/products", json={"Sku": "T-1", "Name": "Tent", "Category": "GARDEN",
                                                 "UnitPrice": "5"}).json()
    hops = count_thread_hops(monkeypatch)
    ident = created["ProductId"]
    calls = [("GET", "/api/products?page=1&page_size=5", None), ("GET", f"/api/products/{ident}", None),
             # the writes too: a dry run's connection is taken and rolled back by the thread that uses it
             ("POST", "/api/products", {"Sku": "T-2", "Name": "Tarp", "Category": "GARDEN", "UnitPrice": "3"}),
             ("PUT", f"/api/products/{ident}", {"Name": "Big tent"}),
             ("POST", f"/api/products/{ident}/deactivate", None),
             ("GET", "/v2/products?limit=5", None), ("GET", f"/v2/products/{ident}", None),
             ("POST", "/v2/products", {"sku": "T-3", "name": "Peg", "category": "GARDEN", "price": "1.00"}),
             ("PATCH", f"/v2/products/{ident}", {"name": "Tent again"}),
             ("POST", f"/v2/products/{ident}/deactivate", None)]
    for method, path, body in calls:
        hops.clear()
        response = client.request(method, path, json=body)
        assert response.status_code in (200, 201), response.text
        assert len(hops) == 1, (method, path, hops)


def test_reads_answer_503_inventory_unavailable_when_availability_cannot_be_read(tmp_path: Path) -> None:
    """The reads run in an executor thread (in_session): an availability failure raised there still reaches the
    app's handler as the legacy 503 INVENTORY_UNAVAILABLE, never a guessed number or a 500."""
    from new_services.catalog.app import create_app
    from new_services.catalog.ports import AvailabilityUnavailable
    from new_services.catalog.settings import CatalogSettings
    from tests.unit.catalog.conftest import SHADOW_KEY

    class Down:
        def available(self, product_ids, *, fresh: bool = False):  # type: ignore[no-untyped-def]
            raise AvailabilityUnavailable("legacy inventory: connection refused")

        def close(self) -> None:
            pass

    settings = CatalogSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/catalog.db",
                               var_dir=tmp_path)
    with TestClient(create_app(settings, availability=Down())) as client:
        created = client.post("/api/products", json={"Sku": "D-1", "Name": "Drum", "Category": "TOYS",
                                                     "UnitPrice": "9"})
        assert created.status_code == 201, created.text
        for path in ("/api/products", f"/api/products/{created.json()['ProductId']}"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["ErrorCode"] == "INVENTORY_UNAVAILABLE"
