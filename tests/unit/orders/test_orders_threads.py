"""The orders handlers run their session in one pool thread (in_session): every call — legacy writes, /v2 reads
and writes, dry runs included — hands its blocking work (the saga's calls to the monolith, the SQL, a dry
run's rollback) to a thread once. With sync handlers and a session dependency, a write took four hops (the
saga and dry-run dependencies, the session's enter, the handler, the session's exit) and a dry run's
connection was held by a request waiting for a second thread. In-process, with in-memory collaborators
standing in for the monolith (the outside systems; the orders service, its saga and database are real)."""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from strangler_app.protocol import DRY_RUN_RESPONSE_HEADER, HEADER, sign

from new_services.orders.app import create_app
from new_services.orders.ports import PriceQuote, Reservation
from new_services.orders.saga import Collaborators
from new_services.orders.settings import OrdersSettings
from tests.identity_auth import IDENTITY_KEY, SignedIdentity
from tests.thread_hops import count_thread_hops
from tests.unit.catalog.conftest import SHADOW_KEY


@dataclass
class Monolith:
    """Customers, prices and stock of an outside system, in memory; every product is in warehouse W1."""
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    reserved: dict[str, Reservation] = field(default_factory=dict)

    def ensure_exists(self, customer_id: int) -> None:
        return None

    def quote(self, product_id: int, index: int) -> PriceQuote:
        return PriceQuote(product_id, Decimal("2.50"), True)

    def reserve(self, product_id: int, quantity: int, index: int, reference: str) -> Reservation:
        self.reserved[reference] = Reservation(next(self.ids), product_id, "W1", quantity)
        return self.reserved[reference]

    def find(self, reference: str) -> Reservation | None:
        return self.reserved.get(reference)

    def warehouse_with(self, product_id: int, quantity: int, index: int) -> str:
        return "W1"

    def release(self, reservation_id: int) -> None: ...
    def consume(self, reservation_id: int) -> None: ...
    def release_untracked(self, product_id: int, warehouse: str, quantity: int, reference: str) -> None: ...
    def consume_untracked(self, product_id: int, warehouse: str, quantity: int, reference: str) -> None: ...
    def close(self) -> None: ...


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    monolith = Monolith()
    settings = OrdersSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/orders.db",
                              var_dir=tmp_path, legacy_base_url="http://127.0.0.1:9", identity_key=IDENTITY_KEY)
    parts = Collaborators(customers=monolith, prices=monolith, inventory=monolith)
    with TestClient(create_app(settings, collaborators=parts)) as test_client:
        test_client.auth = SignedIdentity(1)
        yield test_client


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return count_thread_hops(monkeypatch)


def _call(client: TestClient, method: str, path: str, body: dict | None, *, dry: bool = False):
    raw = b"" if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if dry:
        headers[HEADER] = sign(SHADOW_KEY, method, path, raw)
    return client.request(method, path, content=raw, headers=headers)


def test_every_call_takes_one_thread_hop(client: TestClient, hops: list[str]) -> None:
    placed = _call(client, "POST", "/api/orders", {"CustomerId": 1, "Lines": [{"ProductId": 7, "Quantity": 2}]})
    assert placed.status_code == 201, placed.text
    first = placed.json()["OrderId"]
    second = _call(client, "POST", "/v2/orders", {"customer_id": 1, "lines": [{"product_id": 8, "quantity": 1}]})
    assert second.status_code == 201, second.text
    calls = [("POST", "/api/orders", {"CustomerId": 1, "Lines": [{"ProductId": 7, "Quantity": 1}]}, 201),
             ("POST", f"/api/orders/{first}/status", {"Status": "P"}, 200),
             ("POST", "/v2/orders", {"customer_id": 1, "lines": [{"product_id": 9, "quantity": 1}]}, 201),
             ("GET", "/v2/orders?customer_id=1", None, 200),
             ("GET", f"/v2/orders/{second.json()['id']}", None, 200),
             ("POST", f"/v2/orders/{second.json()['id']}/status", {"status": "paid"}, 200),
             ("POST", f"/v2/orders/{second.json()['id']}/cancel", None, 200),
             ("POST", f"/v2/orders/{second.json()['id']}/cancel", None, 409),  # cancelled already: the domain's no
             ("POST", f"/api/orders/{first}/cancel", None, 200)]
    for dry in (True, False):  # each as a dry run (rolled back in its thread), then for real
        for method, path, body, status in calls:
            hops.clear()
            response = _call(client, method, path, body, dry=dry and method == "POST")
            # a dry run's cancel was rolled back: the order can be cancelled again
            expected = 200 if dry and status == 409 else status
            assert response.status_code == expected, (method, path, dry, response.text)
            assert (response.headers.get(DRY_RUN_RESPONSE_HEADER) == "1") == (dry and method == "POST")
            assert len(hops) == 1, (method, path, dry, hops)
