"""Dry-run middleware: signed shadow writes answer normally but leave no trace; others run for real."""
import json
import time

from fastapi.testclient import TestClient

from proxy.signing import DRY_RUN_RESPONSE_HEADER, HEADER, sign

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
    response = _post(client, "/api/products", BODY, sign(SHADOW_KEY, "POST", "/api/products", raw))
    assert response.status_code == 201
    assert response.headers[DRY_RUN_RESPONSE_HEADER] == "1"
    assert response.json()["Sku"] == "DRY-1" and response.json()["ProductId"] == 1
    assert _count(client) == 0
    assert client.get("/api/products/1").status_code == 404


def test_signed_update_via_native_api_is_rolled_back(client: TestClient) -> None:
    created = client.post("/v2/products", json={"sku": "A-1", "name": "n", "category": "C", "price": "1.00"})
    pid = created.json()["id"]
    raw = json.dumps({"name": "changed"}).encode()
    path = f"/v2/products/{pid}"
    response = client.patch(path, content=raw, headers={HEADER: sign(SHADOW_KEY, "PATCH", path, raw),
                                                        "Content-Type": "application/json"})
    assert response.status_code == 200 and response.json()["name"] == "changed"
    assert client.get(path).json()["name"] == "n"


def test_unsigned_forged_and_stale_headers_run_for_real(client: TestClient) -> None:
    raw = json.dumps(BODY).encode()
    forged = sign("another-key-0123456789abcdef", "POST", "/api/products", raw)
    stale = sign(SHADOW_KEY, "POST", "/api/products", raw, ts=time.time() - 120)
    other_body = sign(SHADOW_KEY, "POST", "/api/products", b"{}")
    for number, header in enumerate((None, forged, stale, other_body, "t=1,v1=zz"), start=1):
        response = _post(client, "/api/products", {**BODY, "Sku": f"REAL-{number}"}, header)
        assert response.status_code == 201, response.text
        assert DRY_RUN_RESPONSE_HEADER not in response.headers
    assert _count(client) == 5


def test_reads_never_become_dry_runs(client: TestClient) -> None:
    header = sign(SHADOW_KEY, "GET", "/api/products", b"")
    response = client.get("/api/products", headers={HEADER: header})
    assert response.status_code == 200 and DRY_RUN_RESPONSE_HEADER not in response.headers
