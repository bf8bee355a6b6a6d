"""The real demo monolith under real gunicorn with the capture hook: every endpoint of the contract is driven
over HTTP, the capture is analysed with config/footprint.yaml, and the coupling found must be exactly the
coupling the contract allows (COMMON.md / DESIGN.md §5) — no more, no less."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from strangler.footprint.analysis import analyse_capture, feature_view
from strangler.footprint.config import load_config
from strangler.footprint.readers import read_sources
from strangler.procs import free_port, running
from tests.identity_auth import LEGACY_ENV, PASSWORD

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
EXPECTED_COUPLING = {
    ("orders", "PRODUCTS", "read"),
    ("orders", "STOCK", "read/write"),
    ("catalog", "STOCK", "read"),
    ("customers", "ORDERS", "read"),
}


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: " \
                                           f"{response.status_code} {response.text[:300]}"
    return response.json()


def drive_every_endpoint(client: httpx.Client) -> None:
    """One call (at least) per endpoint of the legacy API contract, with bodies that succeed."""
    _ok(client.get("/healthz"))
    _ok(client.get("/openapi.json"))
    # catalog
    _ok(client.get("/api/products", params={"page": 1, "page_size": 5}))
    _ok(client.get("/api/products", params={"category": "X", "active": "Y", "q": "a", "min_price": "1",
                                            "max_price": "999"}))
    product = _ok(client.post("/api/products", json={"Sku": "FP-1", "Name": "Footprint probe", "Category": "PROBE",
                                                    "UnitPrice": "12.50"}), 201)
    pid = product["ProductId"]
    _ok(client.get(f"/api/products/{pid}"))
    _ok(client.put(f"/api/products/{pid}", json={"Name": "Footprint probe 2", "UnitPrice": "13.00"}))
    # inventory: stock the new product so an order can reserve it
    seeded = _ok(client.get("/api/inventory/1"))
    warehouse = seeded["Warehouses"][0]["Warehouse"] if seeded["Warehouses"] else "LON"
    _ok(client.post(f"/api/inventory/{pid}/adjust", json={"Warehouse": warehouse, "Delta": 50, "Reason": "probe"}))
    _ok(client.get(f"/api/inventory/{pid}"))
    reservation = _ok(client.post("/api/inventory/reservations", json={"ProductId": pid, "Quantity": 1}), 201)
    _ok(client.post(f"/api/inventory/reservations/{reservation['ReservationId']}/release"))
    # customers
    _ok(client.get("/api/customers", params={"page": 1, "page_size": 5}))
    customer = _ok(client.post("/api/customers", json={"Email": "probe@footprint.test", "FirstName": "Foot",
                                                      "LastName": "Print", "Password": PASSWORD}), 201)
    cid = customer["CustomerId"]
    _ok(client.get(f"/api/customers/{cid}"))
    _ok(client.put(f"/api/customers/{cid}", json={"Phone": "+44 20 0000 0000"}))
    # orders need a logged-in customer: log in (auth blueprint of the customers module), out at the end
    assert _ok(client.post("/api/login", json={"Email": "probe@footprint.test", "Password": PASSWORD}))["Success"]
    # orders: place, advance through every status, place and cancel another
    order = _ok(client.post("/api/orders", json={"CustomerId": cid, "Lines": [{"ProductId": pid, "Quantity": 2}]}),
                201)
    oid = order["OrderId"]
    _ok(client.get(f"/api/orders/{oid}"))
    _ok(client.get("/api/orders", params={"customer_id": cid, "page": 1, "page_size": 10}))
    for status in ("P", "S", "D"):
        _ok(client.post(f"/api/orders/{oid}/status", json={"Status": status}))
    other = _ok(client.post("/api/orders", json={"CustomerId": cid, "Lines": [{"ProductId": pid, "Quantity": 1}]}),
                201)
    _ok(client.post(f"/api/orders/{other['OrderId']}/cancel"))
    _ok(client.get(f"/api/customers/{cid}/summary"))
    _ok(client.post(f"/api/products/{pid}/deactivate"))
    _ok(client.post("/api/logout"))


@pytest.fixture(scope="module")
def footprint(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("footprint_monolith")
    database_url = f"sqlite:///{workdir / 'legacy.db'}"
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--database-url", database_url,
                    "--products", "20", "--customers", "10", "--orders", "20"],
                   check=True, capture_output=True, timeout=120, cwd=REPO)
    capture_file = workdir / "capture.jsonl"
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:strangler.footprint.gunicorn_hook", "-w", "2",
            "-b", f"127.0.0.1:{port}", "--no-control-socket", "legacy_monolith.wsgi:app"]
    env = {"LEGACY_DATABASE_URL": database_url, "STRANGLER_SQL_CAPTURE": str(capture_file), **LEGACY_ENV}
    with running(argv, health_url=f"http://127.0.0.1:{port}/healthz", env=env, log_path=workdir / "gunicorn.log",
                 cwd=REPO, timeout=60, expect_status=200), \
            httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        drive_every_endpoint(client)
    config = load_config(REPO / "config" / "footprint.yaml", required=True)
    return analyse_capture(read_sources([capture_file]), config)


def test_coupling_is_exactly_the_contract(footprint: dict[str, Any]) -> None:
    found = {(e["module"], e["table"], e["access"]) for e in footprint["coupling"]}
    if found != EXPECTED_COUPLING:
        extra = [e for e in footprint["coupling"] if (e["module"], e["table"], e["access"]) not in EXPECTED_COUPLING]
        details = "; ".join(f"{e['module']} {e['access']} {e['table']} via {e['endpoints']}: {e['examples']}"
                            for e in extra)
        pytest.fail(f"coupling {sorted(found)} != contract {sorted(EXPECTED_COUPLING)}. Unexpected: {details}")


def test_every_module_was_captured_with_its_own_tables(footprint: dict[str, Any]) -> None:
    modules = footprint["modules"]
    assert {"catalog", "customers", "inventory", "orders"} <= set(modules)
    assert set(modules["catalog"]["writes"]) == {"PRODUCTS"}
    assert set(modules["customers"]["writes"]) == {"CUSTOMERS"}
    assert set(modules["orders"]["writes"]) == {"ORDERS", "ORD_LINES", "STOCK"}
    assert {"STOCK", "STOCK_RSV"} <= set(modules["inventory"]["writes"])
    assert footprint["stats"]["unparseable"] == 0, footprint["errors"]
    assert footprint["stats"]["bad_records"] == 0


def test_orders_reads_the_prices_and_reserves_stock_in_place_order(footprint: dict[str, Any]) -> None:
    stock = next(e for e in footprint["coupling"] if e["module"] == "orders" and e["table"] == "STOCK")
    assert "POST orders.place_order" in stock["endpoints"] or any(ep.startswith("POST orders.") for ep in
                                                                  stock["endpoints"])
    assert "QTY_RSRVD" in stock["columns"]


def test_catalog_feature_view(footprint: dict[str, Any]) -> None:
    view = feature_view(footprint, "catalog")
    assert [t["table"] for t in view["tables_to_move"]] == ["PRODUCTS"]
    assert {(e["table"], e["access"]) for e in view["acl_outbound"]} == {("STOCK", "read")}
    assert {(e["module"], e["table"]) for e in view["acl_inbound"]} == {("orders", "PRODUCTS")}
