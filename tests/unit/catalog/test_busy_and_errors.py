"""Busy, not broken; one line per error. In-process (TestClient) on a real SQLite file.

- A write that cannot get the SQLite write lock answers the legacy contract's 503 DATABASE_BUSY with
  Retry-After (legacy envelope on /api, problem on /v2), and reads still work meanwhile.
- An unexpected error is one log line with the request id and the cause; tracebacks are rate-limited per
  error type and never carry the request body.
"""
from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from acl.common.envelope import legacy_envelope
from new_services.catalog.app import create_app
from new_services.catalog.settings import CatalogSettings
from new_services.common.app import create_service_app
from new_services.common.db import Database
from tests.unit.catalog.conftest import SHADOW_KEY, FixedAvailability


@contextmanager
def write_lock(db_file: Path) -> Iterator[None]:
    """Another writer holding the SQLite write lock (as a long transaction in another process would)."""
    holder = sqlite3.connect(db_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.fixture
def busy_client(tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    settings = CatalogSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/catalog.db",
                               var_dir=tmp_path, db_busy_timeout_ms=50)
    with TestClient(create_app(settings, availability=FixedAvailability())) as client:
        yield client, tmp_path / "catalog.db"


def test_a_held_write_lock_is_503_database_busy_then_writes_resume(busy_client) -> None:
    client, db_file = busy_client
    created = client.post("/v2/products", json={"sku": "B-1", "name": "n", "category": "C", "price": "1.00"})
    assert created.status_code == 201
    with write_lock(db_file):
        legacy = client.post("/api/products", json={"Sku": "B-2", "Name": "n", "Category": "C", "UnitPrice": "2.00"})
        assert legacy.status_code == 503 and legacy.headers["Retry-After"] == "1"
        assert legacy.json() == {"Success": False, "ErrorCode": "DATABASE_BUSY",
                                 "ErrorMessage": "the database stayed locked by other writers; retry shortly"}
        native = client.patch(f"/v2/products/{created.json()['id']}", json={"name": "renamed"})
        assert native.status_code == 503 and native.headers["Retry-After"] == "1"
        assert native.headers["content-type"] == "application/problem+json"
        assert native.json()["code"] == "DATABASE_BUSY" and native.json()["status"] == 503
        assert client.get(f"/v2/products/{created.json()['id']}").json()["name"] == "n"  # reads do not queue
    assert client.post("/api/products", json={"Sku": "B-2", "Name": "n", "Category": "C",
                                              "UnitPrice": "2.00"}).status_code == 201
    assert client.get("/v2/products").json()["items"][1]["sku"] == "B-2"


def _failing_app(tmp_path: Path):
    router = APIRouter()

    @router.post("/api/boom")
    async def boom(request: Request) -> dict:
        await request.body()
        raise RuntimeError("the handler has a bug")

    @router.get("/v2/other")
    def other() -> dict:
        raise KeyError("missing")

    settings = CatalogSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/x.db", var_dir=tmp_path)
    return create_service_app(title="t", service="t", settings=settings, database=Database(settings.database_url),
                              routers=[router], envelope=legacy_envelope)


def test_n_failures_are_n_lines_and_one_traceback_per_type(tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    n = 25
    with TestClient(_failing_app(tmp_path)) as client, caplog.at_level(logging.WARNING):
        for i in range(n):
            answer = client.post("/api/boom", content=b'{"Secret": "BODY-MARKER-42"}',
                                 headers={"X-Request-ID": f"req-{i}"})
            assert answer.status_code == 500 and answer.json()["ErrorCode"] == "INTERNAL_ERROR"
        assert client.get("/v2/other", headers={"X-Request-ID": "x\nforged line"}).status_code == 500
    lines = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == n + 1
    assert [bool(r.exc_info) for r in lines].count(True) == 2  # one per error type (RuntimeError, KeyError)
    messages = [r.getMessage() for r in lines]
    assert "request_id=req-0: RuntimeError: the handler has a bug" in messages[0]
    assert "request_id=req-7" in messages[7] and "traceback suppressed" in messages[7]
    assert "request_id=-" in messages[-1]  # a header that is not an id does not reach the log
    assert "BODY-MARKER-42" not in caplog.text


def test_the_next_traceback_counts_the_suppressed_ones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = _failing_app(tmp_path)
    with TestClient(app) as client, caplog.at_level(logging.WARNING):
        for _ in range(3):
            client.post("/api/boom", content=b"{}")
        app.state.error_log.interval_s = 0.0
        client.post("/api/boom", content=b"{}")
    last = [r for r in caplog.records if r.levelno >= logging.ERROR][-1]
    assert last.exc_info and "2 like it suppressed since the last" in last.getMessage()


class _LockedCursor:
    """A cursor whose first `locked` PRAGMA journal_mode=WAL calls fail as SQLite fails the second of two
    workers switching a new database to WAL together (deadlock: 'database is locked' at once, no busy wait)."""

    def __init__(self, locked: int, error: str = "database is locked") -> None:
        self.locked, self.error, self.calls = locked, error, 0

    def execute(self, sql: str) -> None:
        self.calls += 1
        if self.calls <= self.locked:
            raise sqlite3.OperationalError(self.error)


def test_switching_to_wal_retries_a_locked_database_within_the_busy_timeout() -> None:
    from new_services.common.db import _enable_wal
    cursor = _LockedCursor(locked=3)
    _enable_wal(cursor, busy_timeout_ms=2000)
    assert cursor.calls == 4  # three refusals, then switched: the worker starts


def test_switching_to_wal_gives_up_after_the_busy_timeout_and_never_retries_other_errors() -> None:
    from new_services.common.db import _enable_wal
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        _enable_wal(_LockedCursor(locked=10**9), busy_timeout_ms=50)
    other = _LockedCursor(locked=1, error="disk I/O error")
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        _enable_wal(other, busy_timeout_ms=2000)
    assert other.calls == 1


def test_writes_waiting_for_the_lock_never_take_the_threads_legacy_reads_run_on(tmp_path: Path) -> None:
    """Legacy reads run on their own small pool (READ_THREADS), writes on the request pool: with more writes
    waiting for a held SQLite write lock than the read pool has threads, a legacy read is still answered while
    every one of those writes is still waiting (the lock is released only after the read is in)."""
    import threading
    import time

    from new_services.catalog.app import READ_THREADS
    settings = CatalogSettings(shadow_key=SHADOW_KEY, database_url=f"sqlite:///{tmp_path}/catalog.db",
                               var_dir=tmp_path, db_busy_timeout_ms=20_000)
    with TestClient(create_app(settings, availability=FixedAvailability())) as client:
        created = client.post("/api/products", json={"Sku": "W-0", "Name": "n", "Category": "C", "UnitPrice": "1"})
        assert created.status_code == 201
        answers: list[int] = []
        with write_lock(tmp_path / "catalog.db"):
            writers = [threading.Thread(target=lambda i=i: answers.append(client.post(
                "/api/products", json={"Sku": f"W-{i}", "Name": "n", "Category": "C", "UnitPrice": "1"}).status_code))
                for i in range(1, READ_THREADS + 3)]
            for writer in writers:
                writer.start()
            time.sleep(1.0)  # the writes reach the lock and hold their threads (later would only weaken the test)
            read = client.get(f"/api/products/{created.json()['ProductId']}")
            assert read.status_code == 200 and answers == []  # answered while every write still waits
        for writer in writers:
            writer.join(timeout=60)
        assert sorted(answers) == [201] * (READ_THREADS + 2)
