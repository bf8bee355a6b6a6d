"""A burst of signed dry-run writes on the native API never stalls the service (the leftover of issue 15).

With a sync handler and the session dependency, a dry run's connection (and, after its first write, SQLite's
write lock) was held by a request that had no thread: its rollback waited for a pool thread while every
thread was taken by other dry runs' writes waiting for that lock, until the busy timeout turned them into 503
DATABASE_BUSY. Each request now opens, uses and rolls back its session in one thread (in_session).
In-process (TestClient) on a real SQLite file; more concurrent dry runs than the service has request threads.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from fastapi.testclient import TestClient
from strangler_app.protocol import DRY_RUN_RESPONSE_HEADER, HEADER, sign

from new_services.catalog.app import REQUEST_THREADS, create_app
from new_services.catalog.settings import CatalogSettings
from tests.unit.catalog.conftest import SHADOW_KEY, FixedAvailability

BURST = 3 * REQUEST_THREADS  # bounded: 24 requests


def _signed(method: str, path: str, body: dict) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    return raw, {HEADER: sign(SHADOW_KEY, method, path, raw), "Content-Type": "application/json"}


def test_a_burst_of_dry_run_writes_is_answered_and_leaves_nothing(tmp_path: Path) -> None:
    settings = CatalogSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/catalog.db",
                               var_dir=tmp_path, db_busy_timeout_ms=3000)
    with TestClient(create_app(settings, availability=FixedAvailability())) as client:
        real = client.post("/v2/products", json={"sku": "B-0", "name": "n", "category": "C", "price": "1.00"})
        assert real.status_code == 201
        pid = real.json()["id"]
        answers: list[tuple[int, str | None]] = []
        lock = threading.Lock()

        def send(i: int) -> None:
            if i % 2:
                path, body = f"/v2/products/{pid}", {"name": f"dry {i}"}
                raw, headers = _signed("PATCH", path, body)
                response = client.patch(path, content=raw, headers=headers)
            else:
                path, body = "/v2/products", {"sku": f"B-{i}", "name": "n", "category": "C", "price": "1.00"}
                raw, headers = _signed("POST", path, body)
                response = client.post(path, content=raw, headers=headers)
            with lock:
                answers.append((response.status_code, response.headers.get(DRY_RUN_RESPONSE_HEADER)))

        senders = [threading.Thread(target=send, args=(i,)) for i in range(1, BURST + 1)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(timeout=120)
        assert sorted(answers) == sorted([(200, "1")] * (BURST // 2) + [(201, "1")] * (BURST // 2)), answers
        listed = client.get("/v2/products").json()["items"]
        assert [(p["sku"], p["name"]) for p in listed] == [("B-0", "n")]  # every dry run rolled back
