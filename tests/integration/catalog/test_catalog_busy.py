"""A real catalog service (uvicorn) on a SQLite file: concurrent writers get 2xx or 503 DATABASE_BUSY with
Retry-After — never a 500 — and every acknowledged write is in the database; a held write lock gives the 503
deterministically; bad ids are 4xx on a connection that stays usable; N failures log N lines, one traceback.
"""
from __future__ import annotations

import http.client
import itertools
import json
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[3]
WRITERS, CREATES_EACH, UPDATES_EACH = 8, 12, 4
BUSY_MESSAGE = "the database stayed locked by other writers; retry shortly"


@dataclass(frozen=True)
class Service:
    url: str
    db_file: Path
    log: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("catalog-busy")
    port = free_port()
    env = {"CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db", "STRANGLER_VAR_DIR": str(tmp / "var"),
           "STRANGLER_SHADOW_KEY": "busy-test-shadow-key-0123456789", "STRANGLER_DB_BUSY_TIMEOUT_MS": "1000",
           "LEGACY_BASE_URL": f"http://127.0.0.1:{free_port()}"}  # nothing listens: these tests never read stock
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--host", "127.0.0.1",
                  "--port", str(port)], health_url=f"{url}/healthz", env=env, cwd=REPO, log_path=tmp / "catalog.log"):
        yield Service(url=url, db_file=tmp / "catalog.db", log=tmp / "catalog.log")


def _assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503 and response.headers.get("Retry-After") == "1", response.text
    body = response.json()
    assert body.get("ErrorCode", body.get("code")) == "DATABASE_BUSY", body


def test_concurrent_writers_get_2xx_or_503_and_every_2xx_is_stored(service: Service) -> None:
    statuses: Counter[int] = Counter()
    created: dict[int, str] = {}   # ProductId -> SKU, for every 201
    renamed: dict[int, str] = {}   # ProductId -> name, for every 200 of a PATCH
    failures: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(WRITERS)

    def writer(index: int) -> None:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            barrier.wait(timeout=30)
            mine: list[int] = []
            for n in range(CREATES_EACH):
                sku = f"W{index}-{n}"
                answer = client.post("/api/products", json={"Sku": sku, "Name": f"writer {index}",
                                                            "Category": "TEST", "UnitPrice": "1.50"})
                with lock:
                    statuses[answer.status_code] += 1
                if answer.status_code == 201:
                    mine.append(answer.json()["ProductId"])
                    with lock:
                        created[answer.json()["ProductId"]] = sku
                elif answer.status_code == 503:
                    _assert_busy(answer)
                else:
                    failures.append(f"POST {answer.status_code} {answer.text[:200]}")
            for n, product_id in enumerate(mine[:UPDATES_EACH]):
                name = f"renamed {index}-{n}"
                answer = client.patch(f"/v2/products/{product_id}", json={"name": name})
                with lock:
                    statuses[answer.status_code] += 1
                if answer.status_code == 200:
                    with lock:
                        renamed[product_id] = name
                elif answer.status_code == 503:
                    _assert_busy(answer)
                else:
                    failures.append(f"PATCH {answer.status_code} {answer.text[:200]}")

    def guarded(index: int) -> None:
        try:
            writer(index)
        except Exception as exc:  # noqa: BLE001 - reported below, with the others
            failures.append(repr(exc))

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "writers did not finish in time"
    print(f"\nconcurrent writes: statuses {dict(statuses)}; created {len(created)}, renamed {len(renamed)}")
    assert failures == [] and statuses[500] == 0 and created
    with sqlite3.connect(service.db_file) as db:
        stored = dict(db.execute("SELECT id, sku FROM products"))
        names = dict(db.execute("SELECT id, name FROM products"))
    assert {pid: stored.get(pid) for pid in created} == created       # every 201 is in the database
    assert {pid: names[pid] for pid in renamed} == renamed            # every 200 update is too
    assert len({sku for sku in stored.values() if sku.startswith("W")}) == len(created)  # none twice


def test_a_held_write_lock_answers_503_database_busy(service: Service) -> None:
    holder = sqlite3.connect(service.db_file, isolation_level=None)
    with httpx.Client(base_url=service.url, timeout=30) as client:
        try:
            holder.execute("BEGIN IMMEDIATE")
            legacy = client.post("/api/products", json={"Sku": "HELD-1", "Name": "n", "Category": "TEST",
                                                        "UnitPrice": "1.00"})
            _assert_busy(legacy)
            assert legacy.json() == {"Success": False, "ErrorCode": "DATABASE_BUSY", "ErrorMessage": BUSY_MESSAGE}
            native = client.post("/v2/products", json={"sku": "HELD-2", "name": "n", "category": "TEST",
                                                       "price": "1.00"})
            _assert_busy(native)
            assert native.headers["content-type"] == "application/problem+json"
            assert client.get("/v2/products?limit=1").status_code == 200  # reads are not blocked
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        after = client.post("/api/products", json={"Sku": "HELD-1", "Name": "n", "Category": "TEST",
                                                   "UnitPrice": "1.00"})
        assert after.status_code == 201, after.text  # same kept-alive connection, lock released


def test_bad_ids_are_4xx_and_the_connection_stays_usable(service: Service) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as client:
        for path in (f"/api/products/{2**63}", f"/v2/products/{2**63}", "/api/products/-1",
                     f"/api/products?page={10**30}"):
            answer = client.get(path)
            assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)
            assert client.get("/v2/products?limit=1").status_code == 200


def test_n_failures_log_n_lines_and_one_traceback(service: Service) -> None:
    """Runs last: it breaks the table (a real fault: every read fails) and puts it back."""
    n = 30
    before = service.log.read_text(errors="replace").count("\n")
    with sqlite3.connect(service.db_file) as db:
        db.execute("ALTER TABLE products RENAME TO products_away")
    try:
        # One http.client connection for all: it does not reconnect, so a server that closed the connection after
        # a 500 (uvicorn does when the app re-raises) fails the next request here.
        connection = http.client.HTTPConnection(service.url.removeprefix("http://"), timeout=30)
        try:
            for i in range(n):
                connection.request("GET", "/v2/products", headers={"X-Request-ID": f"flood-{i}"})
                answer = connection.getresponse()
                assert answer.status == 500 and json.loads(answer.read())["status"] == 500
        finally:
            connection.close()
    finally:
        with sqlite3.connect(service.db_file) as db:
            db.execute("ALTER TABLE products_away RENAME TO products")
    text = service.log.read_text(errors="replace")
    added = text.count("\n") - before
    errors = [line for line in text.splitlines() if "unhandled error on GET /v2/products" in line]
    print(f"\n{n} failing requests: {added} log lines, {len(errors)} error lines, "
          f"{text.count('Traceback (most recent call last)')} 'Traceback' header(s) (one chained traceback)")
    assert len(errors) == n and "request_id=flood-0: OperationalError: no such table: products" in errors[0]
    lines = text.splitlines()
    tracebacks = sum(1 for line, after in itertools.pairwise(lines)
                     if "unhandled error on" in line and after.startswith("Traceback"))
    assert tracebacks == 1
    assert "Exception in ASGI application" not in text  # the server logged no second traceback
    first = lines.index(errors[0])
    block = next(i for i in range(first + 1, len(lines))
                 if lines[i].startswith(("INFO:", "unhandled error"))) - first - 1
    assert added - block <= 2 * n + 2  # an access line and an error line per request, besides the one traceback
