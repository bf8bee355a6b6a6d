"""Signed dry-run writes on PostgreSQL never stall the catalog service (issue 15, the write-safety audit's stall).

The real catalog service under uvicorn on a fresh PostgreSQL database takes 20 clients' concurrent signed dry-run
POSTs, interleaved with real POSTs and with a "sync" connection inserting (and committing) some of the dry runs'
SKUs. Every request must answer — 2xx, 503 DATABASE_BUSY, or (for a SKU the sync committed first) 409
DUPLICATE_SKU — within a generous per-request timeout; afterwards no connection is left "idle in transaction",
dry runs left nothing behind, and the id counter moved only for the real creates (a dry run takes no lock on it).

Before the fix this hung: a dry run bumped the counter row inside its outer transaction and kept its row lock until
the rollback, which comes after the answer is serialised on the request thread pool; creates waiting for that lock
held the pool's threads, so the rollback never ran (and nothing bounded a PostgreSQL lock wait).

Needs STRANGLER_TEST_PG_URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test); skipped without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from strangler_app.protocol import ACK_HEADER, DRY_RUN_RESPONSE_HEADER, HEADER, sign

from strangler.procs import free_port, running

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
REPO = Path(__file__).resolve().parents[3]
PG_ENV = "STRANGLER_TEST_PG_URL"
KEY = "pg-dry-run-load-shadow-key-0123456789"
ID_START = 10_000_000
DRY_CLIENTS, DRY_EACH = 20, 4  # 80 signed dry-run creates
REAL_CLIENTS, REAL_EACH = 4, 6  # 24 real creates
SYNCED_EVERY = 4  # the "sync" commits every 4th dry-run SKU itself (a legacy write's copy)
REQUEST_TIMEOUT_S = 90.0  # generous: a hang is what fails, never slowness
PATH = "/api/products"


@dataclass(frozen=True)
class Service:
    url: str
    db_url: str
    db_name: str
    log: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    base = os.environ.get(PG_ENV, "").strip()
    if not base:
        pytest.skip(f"set {PG_ENV} (e.g. postgresql+psycopg://root@127.0.0.1:5432/test) to run")
    name = f"strangler_dryload_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db_url = make_url(base).set(database=name).render_as_string(hide_password=False)
    tmp = tmp_path_factory.mktemp("catalog-pg-dry-run")
    port = free_port()
    env = {
        "CATALOG_DATABASE_URL": db_url,
        "CATALOG_ID_START": str(ID_START),
        "STRANGLER_VAR_DIR": str(tmp / "var"),
        "STRANGLER_SHADOW_KEY": KEY,
        "STRANGLER_DB_BUSY_TIMEOUT_MS": "2000",
        "LEGACY_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }  # nothing listens: creates never read stock
    url = f"http://127.0.0.1:{port}"
    try:
        with running(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "new_services.catalog.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            health_url=f"{url}/healthz",
            env=env,
            cwd=REPO,
            log_path=tmp / "catalog.log",
            timeout=60,
        ):
            yield Service(url=url, db_url=db_url, db_name=name, log=tmp / "catalog.log")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def product(sku: str) -> dict[str, str]:
    return {"Sku": sku, "Name": f"product {sku}", "Category": "TEST", "UnitPrice": "2.50"}


@dataclass
class Tally:
    statuses: Counter[str] = field(default_factory=Counter)
    created: dict[int, str] = field(default_factory=dict)  # real 201s: ProductId -> SKU
    synced: set[str] = field(default_factory=set)  # SKUs the "sync" committed
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, what: str) -> None:
        with self.lock:
            self.failures.append(what)


def is_busy(answer: httpx.Response) -> bool:
    if answer.status_code != 503 or answer.headers.get("Retry-After") is None:
        return False
    body = answer.json()
    return body.get("ErrorCode", body.get("code")) == "DATABASE_BUSY"


def dry_client(service: Service, index: int, tally: Tally, barrier: threading.Barrier) -> None:
    with httpx.Client(base_url=service.url, timeout=REQUEST_TIMEOUT_S) as client:
        barrier.wait(timeout=60)
        for n in range(DRY_EACH):
            sku = f"D{index}-{n}"
            body = json.dumps(product(sku)).encode()
            answer = client.post(
                PATH, content=body, headers={HEADER: sign(KEY, "POST", PATH, body), "Content-Type": "application/json"}
            )
            with tally.lock:
                tally.statuses[f"dry {answer.status_code}"] += 1
            if answer.status_code == 201:
                if answer.headers.get(DRY_RUN_RESPONSE_HEADER) != "1" or not answer.headers.get(ACK_HEADER):
                    tally.fail(f"dry run {sku} answered 201 without the dry-run acknowledgement")
            elif answer.status_code == 409 and answer.json().get("ErrorCode") == "DUPLICATE_SKU":
                pass  # the "sync" committed this SKU first: the dry run saw it, as a real create would
            elif not is_busy(answer):
                tally.fail(f"dry run {sku}: {answer.status_code} {answer.text[:200]}")


def real_client(service: Service, index: int, tally: Tally, barrier: threading.Barrier) -> None:
    with httpx.Client(base_url=service.url, timeout=REQUEST_TIMEOUT_S) as client:
        barrier.wait(timeout=60)
        for n in range(REAL_EACH):
            sku = f"R{index}-{n}"
            answer = client.post(PATH, json=product(sku))
            with tally.lock:
                tally.statuses[f"real {answer.status_code}"] += 1
                if answer.status_code == 201:
                    tally.created[answer.json()["ProductId"]] = sku
            if answer.status_code != 201 and not is_busy(answer):
                tally.fail(f"real {sku}: {answer.status_code} {answer.text[:200]}")


def sync_client(service: Service, tally: Tally, barrier: threading.Barrier) -> None:
    """A forward sync's stand-in: its own connection inserts (legacy ids, below the range) some of the SKUs the
    dry runs create, one short transaction each, as the sync does with the legacy rows the dry runs copy."""
    engine = create_engine(service.db_url, connect_args={"options": "-c lock_timeout=60000"})
    try:
        barrier.wait(timeout=60)
        legacy_id = 1
        for n in range(DRY_EACH):
            for index in range(0, DRY_CLIENTS, SYNCED_EVERY):
                sku = f"D{index}-{n}"
                with engine.begin() as conn:
                    conn.execute(
                        text(
                            "INSERT INTO products (id, sku, name, category, price_minor, currency, status,"
                            " created_at, updated_at) VALUES (:id, :sku, 'synced', 'TEST', 250, 'GBP',"
                            " 'active', now(), now()) ON CONFLICT (sku) DO NOTHING"
                        ),
                        {"id": legacy_id, "sku": sku},
                    )
                legacy_id += 1
                with tally.lock:
                    tally.synced.add(sku)
    finally:
        engine.dispose()


def guarded(target, *args) -> None:
    try:
        target(*args)
    except Exception as exc:  # noqa: BLE001 - a timed-out request is the failure this test exists for
        args[-2].fail(f"{target.__name__}: {exc!r}")


def counter_next_id(service: Service) -> int:
    engine = create_engine(service.db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT next_id FROM product_id_counter")).scalar_one())
    finally:
        engine.dispose()


def test_dry_runs_real_creates_and_a_sync_all_answer_and_leave_no_open_transaction(service: Service) -> None:
    counter_before = counter_next_id(service)
    tally = Tally()
    barrier = threading.Barrier(DRY_CLIENTS + REAL_CLIENTS + 1)
    threads = (
        [threading.Thread(target=guarded, args=(dry_client, service, i, tally, barrier)) for i in range(DRY_CLIENTS)]
        + [
            threading.Thread(target=guarded, args=(real_client, service, i, tally, barrier))
            for i in range(REAL_CLIENTS)
        ]
        + [threading.Thread(target=guarded, args=(sync_client, service, tally, barrier))]
    )
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT_S * (DRY_EACH + REAL_EACH) + 60)
    assert not any(t.is_alive() for t in threads), f"clients still waiting: {dict(tally.statuses)}"
    print(
        f"\nPostgreSQL dry-run load: {dict(sorted(tally.statuses.items()))}; real creates {len(tally.created)}, "
        f"synced SKUs {len(tally.synced)}"
    )
    assert tally.failures == [], "\n".join(tally.failures[:20])
    assert sum(tally.statuses.values()) == DRY_CLIENTS * DRY_EACH + REAL_CLIENTS * REAL_EACH
    assert tally.statuses["dry 201"] > 0 and tally.created

    engine = create_engine(service.db_url)
    try:
        with engine.connect() as conn:
            idle = conn.execute(
                text(
                    "SELECT pid, state, left(query, 80) FROM pg_stat_activity WHERE datname = :db"
                    " AND state LIKE 'idle in transaction%'"
                ),
                {"db": service.db_name},
            ).all()
            stored = {row.sku: row.id for row in conn.execute(text("SELECT sku, id FROM products"))}
    finally:
        engine.dispose()
    assert idle == [], f"connections left idle in transaction: {idle}"
    assert {stored.get(sku) for sku in tally.created.values()} == set(tally.created)  # every real 201 stored once
    dry_left = {sku for sku in stored if sku.startswith("D")} - tally.synced
    assert dry_left == set(), f"dry runs left rows behind: {sorted(dry_left)[:10]}"
    # only real creates moved the counter (a 503 real create may have bumped it and rolled back: no gap kept)
    next_id = counter_next_id(service)
    assert next_id == counter_before + len(tally.created), (counter_before, next_id, len(tally.created))


def signed_create(client: httpx.Client, sku: str) -> httpx.Response:
    body = json.dumps(product(sku)).encode()
    return client.post(
        PATH, content=body, headers={HEADER: sign(KEY, "POST", PATH, body), "Content-Type": "application/json"}
    )


@contextlib.contextmanager
def holding(service: Service, statement: str, params: dict[str, object]) -> Iterator[None]:
    """An outside connection with `statement` run in a transaction kept open for the block, then rolled back."""
    engine = create_engine(service.db_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(statement), params)
            try:
                yield
            finally:
                conn.rollback()
    finally:
        engine.dispose()


def test_a_held_counter_lock_stops_real_creates_not_dry_runs(service: Service) -> None:
    """A dry run never touches the id counter: with its row lock held elsewhere, a signed create answers 201
    and a real create waits no longer than the busy timeout, then answers 503 DATABASE_BUSY."""
    with (
        holding(service, "UPDATE product_id_counter SET next_id = next_id", {}),
        httpx.Client(base_url=service.url, timeout=REQUEST_TIMEOUT_S) as client,
    ):
        dry = signed_create(client, "HC-DRY")
        real = client.post(PATH, json=product("HC-REAL"))
    assert dry.status_code == 201 and dry.headers.get(ACK_HEADER), dry.text
    assert is_busy(real), (real.status_code, real.text)


def test_a_held_row_lock_gives_dry_runs_and_creates_503_not_a_hang(service: Service) -> None:
    """The sync's case: its uncommitted INSERT of a SKU the requests also create. PostgreSQL would make them wait
    until that transaction ends (here: after the answers, so never); lock_timeout makes both answer 503
    DATABASE_BUSY, and once the holder is gone the same creates succeed."""
    insert = (
        "INSERT INTO products (id, sku, name, category, price_minor, currency, status, created_at, updated_at)"
        " VALUES (999999, 'HR-1', 'held', 'TEST', 250, 'GBP', 'active', now(), now())"
    )
    with holding(service, insert, {}), httpx.Client(base_url=service.url, timeout=REQUEST_TIMEOUT_S) as client:
        dry = signed_create(client, "HR-1")
        real = client.post(PATH, json=product("HR-1"))
    assert is_busy(dry) and is_busy(real), (dry.status_code, dry.text, real.status_code, real.text)
    with httpx.Client(base_url=service.url, timeout=REQUEST_TIMEOUT_S) as client:
        assert signed_create(client, "HR-1").status_code == 201
        assert client.post(PATH, json=product("HR-1")).status_code == 201
