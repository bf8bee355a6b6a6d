"""Dry-run middleware: signed shadow writes answer normally, acknowledged, but leave no trace; unsigned writes
run for real; forged, stale or replayed signatures are refused and leave no trace either."""
import json
import time

from fastapi.testclient import TestClient
from strangler_app.protocol import ACK_HEADER, DRY_RUN_RESPONSE_HEADER, HEADER, ack_valid, sign

from new_services.catalog.settings import DEFAULT_ID_START

SHADOW_KEY = "unit-test-shadow-key-0123456789"  # the key the conftest app is built with
BODY = {"Sku": "DRY-1", "Name": "Shadow kettle", "Category": "KITCHEN", "UnitPrice": "9.99"}


def _post(client: TestClient, path: str, body: dict, header: str | None):
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **({HEADER: header} if header else {})}
    return client.post(path, content=raw, headers=headers)


def _count(client: TestClient) -> int:
    return client.get("/api/products").json()["Total"]


def test_signed_write_answers_but_is_rolled_back(client: TestClient) -> None:
    raw = json.dumps(BODY).encode()
    signature = sign(SHADOW_KEY, "POST", "/api/products", raw)
    response = _post(client, "/api/products", BODY, signature)
    assert response.status_code == 201
    assert response.headers[DRY_RUN_RESPONSE_HEADER] == "1"
    assert ack_valid(SHADOW_KEY, signature, 201, response.headers[ACK_HEADER])
    product_id = response.json()["ProductId"]
    assert response.json()["Sku"] == "DRY-1" and product_id >= DEFAULT_ID_START  # the service's own range
    assert _count(client) == 0
    assert client.get(f"/api/products/{product_id}").status_code == 404


def test_signed_update_via_native_api_is_rolled_back(client: TestClient) -> None:
    created = client.post("/v2/products", json={"sku": "A-1", "name": "n", "category": "C", "price": "1.00"})
    pid = created.json()["id"]
    raw = json.dumps({"name": "changed"}).encode()
    path = f"/v2/products/{pid}"
    response = client.patch(path, content=raw, headers={HEADER: sign(SHADOW_KEY, "PATCH", path, raw),
                                                        "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["name"] == "changed"
    assert client.get(path).json()["name"] == "n"


def test_unsigned_runs_for_real_and_bad_signatures_are_refused(client: TestClient) -> None:
    raw = json.dumps(BODY).encode()
    assert _post(client, "/api/products", {**BODY, "Sku": "REAL-1"}, None).status_code == 201
    forged = sign("another-key-0123456789abcdef", "POST", "/api/products", raw)
    stale = sign(SHADOW_KEY, "POST", "/api/products", raw, ts=time.time() - 120)
    other_body = sign(SHADOW_KEY, "POST", "/api/products", b"{}")
    replayed = sign(SHADOW_KEY, "POST", "/api/products", raw)
    assert _post(client, "/api/products", BODY, replayed).status_code == 201  # first use: a dry run
    for header in (forged, stale, other_body, "t=1,v1=zz", replayed):
        response = _post(client, "/api/products", BODY, header)
        assert response.status_code == 403, response.text
        assert ACK_HEADER not in response.headers and DRY_RUN_RESPONSE_HEADER not in response.headers
    assert _count(client) == 1


def test_reads_never_become_dry_runs(client: TestClient) -> None:
    header = sign(SHADOW_KEY, "GET", "/api/products", b"")
    response = client.get("/api/products", headers={HEADER: header})
    assert response.status_code == 200 and DRY_RUN_RESPONSE_HEADER not in response.headers
