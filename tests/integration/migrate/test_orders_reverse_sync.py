"""Orders after `handover --writes service` (issue 15, bug 4), with real processes on SQLite and PostgreSQL: the
monolith under gunicorn, the orders service under uvicorn, the migrate engine in between. Orders the service
places, pays and cancels reach the monolith's ORDERS/ORD_LINES through the reverse sync — as the monolith
itself serves them — with their ids from ORDERS_ID_START; the sync writes order rows only (the saga already
reserved and released stock through the monolith's API, so STOCK is exactly as the saga left it); legacy's own
next order id stays below the range; verify and the id-range check pass."""
from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from legacy_monolith.db import make_engine
from legacy_monolith.seed import seed
from new_services.common.settings import DEFAULT_ID_START
from strangler.migrate import capture
from strangler.migrate.engine import backfill
from strangler.migrate.feature import FeatureRuntime, open_feature
from strangler.migrate.idrange import check_ranges
from strangler.migrate.ownership import ownership_path, record_backfill, record_sync
from strangler.migrate.runner import HandoverOptions, handover, verify_feature
from strangler.migrate.sync import drain, lag
from strangler.procs import free_port, running
from tests.identity_auth import LEGACY_ENV, PASSWORD, SERVICE_ENV, SignedIdentity, log_in, seeded_email
from tests.integration.migrate.conftest import CONFIG, ROOT, Databases

pytestmark = pytest.mark.integration

SHADOW_KEY = "orders-reverse-test-shadow-key-0123456789"
SEED_ORDERS = 30


def _handed_over(dbs: Databases) -> FeatureRuntime:
    """Seeded monolith, orders backfilled, capture on both sides, forward sync on record, then the handover."""
    engine = make_engine(dbs.legacy_url)
    try:
        seed(engine, 20, 8, SEED_ORDERS, password=PASSWORD)  # customer{n}@example.com can log in
    finally:
        engine.dispose()
    rt = open_feature(CONFIG, "orders", dbs.var_dir)
    rt.create_target_tables()
    for mapping in rt.mappings:
        assert backfill(mapping, rt.source, rt.target, feature="orders").failed == 0
    capture.install(rt.source, rt.capture_specs("legacy"))
    capture.install(rt.target, rt.capture_specs("service"))
    owner_file = ownership_path(dbs.var_dir)
    record_backfill(owner_file, "orders", {"ORDERS": SEED_ORDERS})
    record_sync(owner_file, "orders", "forward", 0.0)
    routes = dbs.var_dir / "routes.yaml"
    routes.write_text((CONFIG.parent / "routes.yaml").read_text())
    done = handover(rt, owner_file, "service", routes, HandoverOptions(quiet_s=0, timeout_s=10))
    assert done["changed"] and done["sync_direction"] == "reverse", done  # no --without-reverse-sync needed
    return rt


def _legacy_stock(rt: FeatureRuntime) -> tuple[dict, dict]:
    with rt.source.connect() as conn:
        stock = {(p, w): (h, r) for p, w, h, r in conn.execute(
            text("SELECT PROD_ID, WH_CD, QTY_ON_HND, QTY_RSRVD FROM STOCK"))}
        reservations = dict(conn.execute(text("SELECT RSV_ID, RSV_STS FROM STOCK_RSV")).all())
    return stock, reservations


def _ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def test_service_orders_reach_legacy_orders_and_nothing_else(dbs: Databases, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERS_DATABASE_URL", dbs.catalog_url)  # the fixture's second database serves orders
    rt = _handed_over(dbs)
    legacy_port, orders_port = free_port(), free_port()
    legacy_url, orders_url = f"http://127.0.0.1:{legacy_port}", f"http://127.0.0.1:{orders_port}"
    legacy_env = {"LEGACY_DATABASE_URL": dbs.legacy_url, "LEGACY_TZ": "Europe/London", **LEGACY_ENV}
    orders_env = {"ORDERS_DATABASE_URL": dbs.catalog_url, "LEGACY_BASE_URL": legacy_url, "LEGACY_TZ": "Europe/London",
                  "STRANGLER_SHADOW_KEY": SHADOW_KEY, "STRANGLER_VAR_DIR": str(dbs.var_dir), **SERVICE_ENV}
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{legacy_port}",
                "legacy_monolith.wsgi:app"]
    uvicorn = [sys.executable, "-m", "uvicorn", "new_services.orders.main:app", "--host", "127.0.0.1",
               "--port", str(orders_port)]
    with running(gunicorn, health_url=f"{legacy_url}/healthz", env=legacy_env, cwd=ROOT,
                 log_path=tmp_path / "gunicorn.log", timeout=30, expect_status=200), \
            running(uvicorn, health_url=f"{orders_url}/healthz", env=orders_env, cwd=ROOT,
                    log_path=tmp_path / "uvicorn.log", timeout=30, expect_status=200), \
            httpx.Client(base_url=legacy_url, timeout=15) as legacy, \
            httpx.Client(base_url=orders_url, timeout=15, auth=SignedIdentity(5)) as service:
        log_in(legacy, seeded_email(5))  # orders need a logged-in customer on both sides
        stocked = [p["ProductId"] for p in _ok(legacy.get("/api/products", params={"active": "Y", "page_size": 200}))
                   ["Products"] if p["Available"] >= 5][:2]
        assert len(stocked) == 2
        before_stock, _ = _legacy_stock(rt)
        kept = _ok(service.post("/api/orders", json={"CustomerId": 5, "Lines": [
            {"ProductId": stocked[0], "Quantity": 2}, {"ProductId": stocked[1], "Quantity": 1}]}), 201)
        cancelled = _ok(service.post("/api/orders", auth=SignedIdentity(3), json={"CustomerId": 3, "Lines": [
            {"ProductId": stocked[0], "Quantity": 1}]}), 201)
        ids = [kept["OrderId"], cancelled["OrderId"]]
        assert ids == [DEFAULT_ID_START, DEFAULT_ID_START + 1]  # the service's range, not legacy's sequence
        _ok(service.post(f"/api/orders/{ids[0]}/status", json={"Status": "P"}))
        _ok(service.post(f"/api/orders/{ids[1]}/cancel"))
        saga_stock, saga_reservations = _legacy_stock(rt)
        moved = {k: (saga_stock[k][1] - before_stock[k][1]) for k in saga_stock if saga_stock[k] != before_stock[k]}
        assert sorted(moved.values()) == [1, 2]  # the kept order's lines reserved once; the cancelled one released
        with rt.source.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM ORDERS WHERE ORD_ID >= :s"),
                                {"s": DEFAULT_ID_START}).scalar() == 0  # nothing in legacy before the sync
        summary = _ok(legacy.get("/api/customers/5/summary"))  # the monolith's own report over ORDERS

        result = drain("orders", "reverse", rt.routes("reverse"), rt.target, rt.source)
        assert (result.quarantined, result.reasons) == (0, [])
        assert result.upserted == 2 + 3  # two headers, three lines (each key once however often it changed)
        assert _legacy_stock(rt) == (saga_stock, saga_reservations)  # STOCK and STOCK_RSV untouched by the sync
        assert lag(rt.source, rt.routes("forward")).pending == 0  # the sync's own writes are not echoed back

        for order_id in ids:  # the monolith serves the service's orders exactly as the service does
            assert _ok(legacy.get(f"/api/orders/{order_id}")) == _ok(service.get(f"/api/orders/{order_id}"))
        assert [_ok(legacy.get(f"/api/orders/{i}"))["Status"] for i in ids] == ["P", "C"]
        after = _ok(legacy.get("/api/customers/5/summary"))
        assert after["OrderCount"] == summary["OrderCount"] + 1
        assert round(after["TotalSpent"] - summary["TotalSpent"], 2) == kept["Total"]

        ok, reports = verify_feature(rt, ownership_path(dbs.var_dir))
        assert ok, [r.as_dict() for r in reports]
        assert {r.source_table: r.matched for r in reports}["ORDERS"] == SEED_ORDERS + 2
        [orders_range] = check_ranges(rt)
        assert (orders_range["level"], orders_range["legacy_ids_in_range"]) == ("ok", []), orders_range

        own = _ok(legacy.post("/api/orders", json={"CustomerId": 5, "Lines": [{"ProductId": stocked[1],
                                                                                 "Quantity": 1}]}), 201)
        assert own["OrderId"] == SEED_ORDERS + 1  # legacy's own next id stays below the service's range
    rt.dispose()
