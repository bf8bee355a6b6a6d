"""Real processes for the orders saga: the monolith under gunicorn (small seed), a tiny fault-injecting
reverse proxy in front of it (in a thread of the test process), and the orders service under uvicorn whose
LEGACY_BASE_URL points at the proxy. Shared by the folder; every process is stopped at the end."""
from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from acl.orders.mapping import aggregate_to_records, backfill_orders
from new_services.orders.models import order_lines_table, orders_table
from strangler.migrate.db import reflect_table
from strangler.migrate.engine import open_engine
from strangler.migrate.mapping import Row
from strangler.procs import free_port, running
from tests.identity_auth import LEGACY_ENV, PASSWORD, SERVICE_ENV, SignedIdentity, log_in

SHADOW_KEY = "orders-test-shadow-key-0123456789"
LEGACY_TIMEOUT_S = 0.8
HOLD_S = 2.5


@dataclass
class HangRule:
    """Hold requests for `route` after letting `skip` of them through, at most `limit` of them (None: all).
    forward=False: the monolith never sees a held request; forward=True: it runs it, but the answer is lost."""

    method: str
    route: str
    skip: int = 0
    seen: int = 0
    forward: bool = False
    limit: int | None = None


@dataclass
class FaultProxy:
    url: str
    upstream: str
    rules: list[HangRule] = field(default_factory=list)
    calls: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rule_for(self, method: str, path: str) -> HangRule | None:
        """The rule that holds this request, if any (and count the request)."""
        with self.lock:
            self.calls[(method, _route(path))] += 1
            for rule in self.rules:
                if rule.method == method and rule.route == _route(path):
                    rule.seen += 1
                    held = rule.seen > rule.skip and (rule.limit is None or rule.seen <= rule.skip + rule.limit)
                    return rule if held else None
        return None


def _route(path: str) -> str:
    """'/api/inventory/reservations/12/release' → '/api/inventory/reservations/{id}/release'."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("?")[0].split("/"))


def _handler(proxy: FaultProxy, client: httpx.Client) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:
            pass

        def _relay(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rule = proxy.rule_for(self.command, self.path)
            if rule is not None:
                if rule.forward:  # the monolith does the work; its answer is lost on the way back
                    client.request(self.command, self.path, content=body,
                                   headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
                time.sleep(HOLD_S)  # the client has given up by now
                self.close_connection = True
                return
            upstream = client.request(self.command, self.path, content=body,
                                      headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
            self.send_response(upstream.status_code)
            self.send_header("Content-Type", upstream.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(upstream.content)))
            self.end_headers()
            self.wfile.write(upstream.content)

        do_GET = do_POST = do_PUT = _relay

    return Handler


@dataclass(frozen=True)
class Stack:
    legacy_url: str
    legacy_db: str
    orders_url: str
    orders_db: str
    proxy: FaultProxy


def _seed(database_url: str) -> None:
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--database-url", database_url,
                    "--products", "20", "--customers", "8", "--orders", "40"],
                   check=True, capture_output=True, timeout=60, env={**os.environ, **LEGACY_ENV})


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("orders_saga")
    legacy_db, orders_db = f"sqlite:///{work / 'legacy.db'}", f"sqlite:///{work / 'orders.db'}"
    _seed(legacy_db)
    source, target = open_engine(legacy_db), open_engine(orders_db)
    report = backfill_orders(source, target, batch_size=7)  # small batches: orders split across batches
    source.dispose()
    target.dispose()
    assert report.failed == 0 and report.written == 40, report.as_dict()

    legacy_port, orders_port = free_port(), free_port()
    legacy_url = f"http://127.0.0.1:{legacy_port}"
    gunicorn = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{legacy_port}",
                "legacy_monolith.wsgi:app"]
    with running(gunicorn, health_url=f"{legacy_url}/healthz", env={"LEGACY_DATABASE_URL": legacy_db, **LEGACY_ENV},
                 log_path=work / "gunicorn.log", timeout=30, expect_status=200), \
            httpx.Client(base_url=legacy_url, timeout=10) as upstream:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        proxy = FaultProxy(url=f"http://127.0.0.1:{server.server_address[1]}", upstream=legacy_url)
        server.RequestHandlerClass = _handler(proxy, upstream)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, name="fault-proxy", daemon=True)
        thread.start()
        env = {"ORDERS_DATABASE_URL": orders_db, "LEGACY_BASE_URL": proxy.url, "STRANGLER_SHADOW_KEY": SHADOW_KEY,
               "ORDERS_TEST_FAULTS": "1", "LEGACY_TIMEOUT_S": str(LEGACY_TIMEOUT_S), **SERVICE_ENV}
        uvicorn = [sys.executable, "-m", "uvicorn", "new_services.orders.main:app", "--host", "127.0.0.1",
                   "--port", str(orders_port)]
        try:
            with running(uvicorn, health_url=f"http://127.0.0.1:{orders_port}/healthz", env=env,
                         log_path=work / "uvicorn.log", timeout=30, expect_status=200):
                yield Stack(legacy_url, legacy_db, f"http://127.0.0.1:{orders_port}", orders_db, proxy)
        finally:
            server.shutdown()
            server.server_close()


@dataclass(frozen=True)
class Snapshot:
    active_reservations: int
    reserved_units: int
    on_hand_units: int
    orders: int
    order_lines: int
    owed_releases: int
    owed_ops: int


def snapshot(stack: Stack) -> Snapshot:
    legacy, orders = create_engine(stack.legacy_db), create_engine(stack.orders_db)
    try:
        with legacy.connect() as conn:
            active = conn.execute(text("SELECT COUNT(*) FROM STOCK_RSV WHERE RSV_STS = 'A'")).scalar_one()
            reserved, on_hand = conn.execute(text("SELECT SUM(QTY_RSRVD), SUM(QTY_ON_HND) FROM STOCK")).one()
        with orders.connect() as conn:
            counts = [conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                      for t in ("orders", "order_lines", "pending_releases", "owed_stock_ops")]
    finally:
        legacy.dispose()
        orders.dispose()
    return Snapshot(active, int(reserved), int(on_hand), *counts)


@dataclass(frozen=True)
class Seeded:
    customer_id: int            # a customer created for these tests (no legacy orders)
    low: int                    # an active product with stock, lower id than `high`
    high: int                   # another active product with stock
    inactive: int               # an inactive product


@pytest.fixture(scope="session")
def seeded(stack: Stack) -> Seeded:
    with httpx.Client(base_url=stack.legacy_url, timeout=10) as legacy:
        customer = legacy.post("/api/customers", json={"Email": "saga.tester@example.com", "FirstName": "Saga",
                                                       "LastName": "Tester", "Password": PASSWORD})
        assert customer.status_code == 201, customer.text
        stocked = []
        for product in legacy.get("/api/products", params={"active": "Y", "page_size": 200}).json()["Products"]:
            if product["Available"] >= 20:
                stocked.append(product["ProductId"])
        inactive = legacy.post("/api/products", json={"Sku": "SAGA-OFF", "Name": "Retired", "Category": "TOOLS",
                                                      "UnitPrice": "3.00", "Active": "N"})
        assert inactive.status_code == 201, inactive.text
    assert len(stocked) >= 2
    return Seeded(customer.json()["CustomerId"], stocked[0], stocked[1], inactive.json()["ProductId"])


@pytest.fixture
def orders_client(stack: Stack, seeded: Seeded) -> Iterator[httpx.Client]:
    """The orders service, called as the façade would for the logged-in saga tester (signed identity)."""
    with httpx.Client(base_url=stack.orders_url, timeout=15, auth=SignedIdentity(seeded.customer_id)) as client:
        yield client


@pytest.fixture(scope="session")
def legacy_client(stack: Stack, seeded: Seeded) -> Iterator[httpx.Client]:
    """The monolith, logged in as the saga tester (session cookie)."""
    with httpx.Client(base_url=stack.legacy_url, timeout=15) as client:
        log_in(client, "saga.tester@example.com")
        yield client


@pytest.fixture(autouse=True)
def _clear_rules(stack: Stack) -> Iterator[None]:
    stack.proxy.rules.clear()
    yield
    stack.proxy.rules.clear()


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


__all__ = ["SHADOW_KEY", "HangRule", "Path", "Seeded", "Snapshot", "Stack", "snapshot", "wait_for"]


@pytest.fixture
def snap(stack: Stack):
    """Callable: the state that must not change when a saga fails (legacy stock + orders DB)."""
    return lambda: snapshot(stack)


@pytest.fixture
def hang(stack: Stack):
    """Callable(method, route, skip=0): make the proxy swallow requests to a route like '/api/x/{id}'."""
    def add(method: str, route: str, skip: int = 0, *, forward: bool = False, limit: int | None = None) -> HangRule:
        rule = HangRule(method, route, skip, forward=forward, limit=limit)
        stack.proxy.rules.append(rule)
        return rule
    return add


@pytest.fixture
def calls(stack: Stack):
    """Callable: a copy of the (method, route) → count of requests the monolith was sent through the proxy."""
    return lambda: Counter(stack.proxy.calls)


def backfill_one(stack: Stack, order_id: int) -> None:
    """Copy one legacy order (placed after the session's backfill) into the orders DB through the ACL mapping."""
    source, target = create_engine(stack.legacy_db), create_engine(stack.orders_db)
    try:
        orders, lines = reflect_table(source, "ORDERS"), reflect_table(source, "ORD_LINES")
        with source.connect() as conn:
            header = Row(conn.execute(orders.select().where(orders.c.ORD_ID == order_id)).mappings().one())
            children = [Row(r) for r in conn.execute(lines.select().where(lines.c.ORD_ID == order_id)).mappings()]
        order, order_lines = aggregate_to_records(header, children)
        with target.begin() as conn:
            conn.execute(orders_table.insert(), [order])
            conn.execute(order_lines_table.insert(), order_lines)
    finally:
        source.dispose()
        target.dispose()


def legacy_rows(stack: Stack, sql: str, **params: object) -> list[tuple]:
    engine = create_engine(stack.legacy_db)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def stock_of(stack: Stack, product_id: int) -> dict[str, tuple[int, int]]:
    """warehouse → (on hand, reserved), as the monolith's inventory API reports it."""
    body = httpx.get(f"{stack.legacy_url}/api/inventory/{product_id}", timeout=10).json()
    return {w["Warehouse"]: (w["OnHand"], w["Reserved"]) for w in body["Warehouses"]}
