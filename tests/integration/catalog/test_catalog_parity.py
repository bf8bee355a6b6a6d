"""Legacy monolith vs catalog service, both real processes: equal bodies after backfill; dry runs leave no
trace. Bodies are compared as canonical JSON with ServerTime removed."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from strangler_app.protocol import DRY_RUN_RESPONSE_HEADER, HEADER, sign

from new_services.catalog.settings import DEFAULT_ID_START
from strangler.procs import free_port, spawn, stop

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
Stack = Any  # the `stack` fixture of conftest.py
VOLATILE = ("ServerTime",)


def canonical(response: httpx.Response, drop: tuple[str, ...] = VOLATILE) -> tuple[int, str]:
    body = response.json()
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k not in drop}
    return response.status_code, json.dumps(body, sort_keys=True, separators=(",", ":"))


def both(stack: Stack, method: str, path: str, **kwargs) -> tuple[httpx.Response, httpx.Response]:
    return (httpx.request(method, stack.legacy + path, timeout=10, **kwargs),
            httpx.request(method, stack.service + path, timeout=10, **kwargs))


def skipped_ids(stack: Stack) -> set[int]:
    return {reason["key"] for table in stack.backfill["tables"] for reason in table["reasons"]}


def test_backfill_copied_every_translatable_row(stack: Stack) -> None:
    (table,) = stack.backfill["tables"]
    assert table["read"] == stack.products and table["written"] + table["failed"] == stack.products
    assert all("does not exist" in reason["reason"] for reason in table["reasons"])  # only DST-gap stamps
    ownership = json.loads((stack.var_dir / "ownership.json").read_text())
    assert ownership["features"]["catalog"]["tables"]["PRODUCTS"]["rows"] == table["written"]


def test_get_product_bodies_equal_for_every_id(stack: Stack) -> None:
    skipped = skipped_ids(stack)
    paths = [f"/api/products/{pid}" for pid in range(1, stack.products + 1) if pid not in skipped]
    paths += ["/api/products/0", f"/api/products/{stack.products + 1}", "/api/products/abc", "/api/products/007"]
    with httpx.Client(timeout=10) as client:
        for path in paths:
            legacy, service = client.get(stack.legacy + path), client.get(stack.service + path)
            assert canonical(legacy) == canonical(service), path


@pytest.mark.parametrize("query", [
    "", "?page=2", "?page=3&page_size=40", "?page_size=200", "?page=99", "?category=TOOLS", "?active=N",
    "?active=Y&category=BOOKS&page_size=10", "?q=lamp", "?q=SKU-00001", "?min_price=10&max_price=99.5",
    "?min_price=250.005", "?page=0", "?page_size=201", "?active=X", "?q=", "?min_price=-1", "?page=abc",
    "?page=2&page=1", "?unknown=1",
])
def test_list_bodies_equal(stack: Stack, query: str) -> None:
    if skipped_ids(stack):
        pytest.skip("some legacy rows could not be translated; list totals differ by design")
    legacy, service = both(stack, "GET", "/api/products" + query)
    assert canonical(legacy) == canonical(service)


def _catalog_rows(stack: Stack) -> list[tuple]:
    engine = create_engine(stack.catalog_db)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT * FROM products ORDER BY id")))
    finally:
        engine.dispose()


def test_signed_dry_run_post_leaves_service_database_unchanged(stack: Stack) -> None:
    before = _catalog_rows(stack)
    raw = json.dumps({"Sku": "SHADOW-1", "Name": "Shadow", "Category": "TOYS", "UnitPrice": "4.20"}).encode()
    response = httpx.post(stack.service + "/api/products", content=raw, timeout=10,
                          headers={HEADER: sign(stack.shadow_key, "POST", "/api/products", raw),
                                   "Content-Type": "application/json"})
    assert response.status_code == 201 and response.headers[DRY_RUN_RESPONSE_HEADER] == "1"
    product_id = response.json()["ProductId"]
    assert product_id >= DEFAULT_ID_START  # the service's own id range, never one legacy could allocate
    assert _catalog_rows(stack) == before
    assert httpx.get(f"{stack.service}/api/products/{product_id}").status_code == 404


def test_same_writes_on_both_sides_give_equal_answers(stack: Stack) -> None:
    """Unsigned writes run for real on each side; the answers match (timestamps aside, and the new product's id:
    each side allocates from its own range, so a create never collides) and both stay in sync."""
    stamps = ("Created", "Updated", "ServerTime")
    created: dict[str, int] = {}
    writes = [
        ("POST", "/api/products", {"Sku": "NEW-1", "Name": "New", "Category": "TOYS", "UnitPrice": "1.50"}),
        ("POST", "/api/products", {"Sku": "NEW-1", "Name": "Dup", "Category": "TOYS", "UnitPrice": "1.50"}),
        ("POST", "/api/products", {"Sku": "bad sku", "Name": "", "Category": "TOYS", "UnitPrice": 0}),
        ("PUT", "/api/products/5", {"Name": "Renamed", "UnitPrice": "7.125", "Description": None}),
        ("PUT", "/api/products/6", {"Sku": "NEW-1"}),
        ("PUT", "/api/products/6", {}),
        ("POST", "/api/products/8/deactivate", None),
        ("POST", "/api/products/99999/deactivate", None),
    ]
    for method, path, body in writes:
        legacy, service = both(stack, method, path, **({"json": body} if body is not None else {}))
        if method == "POST" and legacy.status_code == 201:
            created = {"legacy": legacy.json()["ProductId"], "service": service.json()["ProductId"]}
            assert created["legacy"] < DEFAULT_ID_START <= created["service"]
        assert canonical(legacy, (*stamps, "ProductId")) == canonical(service, (*stamps, "ProductId")), \
            (method, path, body)
    for path in ("/api/products/5", "/api/products/8"):
        legacy, service = both(stack, "GET", path)
        assert canonical(legacy, stamps) == canonical(service, stamps), path
    legacy = httpx.get(f"{stack.legacy}/api/products/{created['legacy']}", timeout=10)
    service = httpx.get(f"{stack.service}/api/products/{created['service']}", timeout=10)
    assert canonical(legacy, (*stamps, "ProductId")) == canonical(service, (*stamps, "ProductId"))


def test_missing_shadow_key_stops_start_up_with_a_clear_message(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRANGLER_SHADOW_KEY", raising=False)
    log = tmp_path / "catalog.log"
    proc = spawn([sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--port", str(free_port())],
                 env={"CATALOG_DATABASE_URL": f"sqlite:///{tmp_path}/c.db"}, log_path=log, cwd=REPO)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop(proc)
        raise
    assert code != 0
    output = log.read_text()
    assert "STRANGLER_SHADOW_KEY is required but not set" in output and "export STRANGLER_SHADOW_KEY" in output
