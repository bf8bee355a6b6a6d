"""The monolith logs one line per failure (request id, cause) and at most one traceback per minute per error
type; never the request body. A busy database answers 503 DATABASE_BUSY with Retry-After."""
from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from flask import Flask, request
from flask.testing import FlaskClient

from legacy_monolith import create_app


def test_n_failures_are_n_lines_and_one_traceback(app: Flask, client: FlaskClient,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    def boom():  # type: ignore[no-untyped-def]
        request.get_data()
        raise ZeroDivisionError("a bug in a view")

    app.add_url_rule("/api/boom", "boom", boom, methods=["POST"])
    n = 20
    with caplog.at_level(logging.WARNING, logger="legacy_monolith"):
        for i in range(n):
            answer = client.post("/api/boom", data=b'{"Card": "BODY-MARKER-7"}', headers={"X-Request-ID": f"r{i}"})
            assert answer.status_code == 500 and answer.get_json()["ErrorCode"] == "INTERNAL_ERROR"
    lines = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == n and sum(1 for r in lines if r.exc_info) == 1
    assert "request_id=r0: ZeroDivisionError: a bug in a view" in lines[0].getMessage()
    assert "request_id=r5" in lines[5].getMessage() and "traceback suppressed" in lines[5].getMessage()
    assert "BODY-MARKER-7" not in caplog.text


def test_a_locked_database_is_503_database_busy_with_retry_after(tmp_path: Path) -> None:
    db_file = tmp_path / "legacy.db"
    application = create_app({"LEGACY_DATABASE_URL": f"sqlite:///{db_file}"})
    engine = application.extensions["legacy_monolith.engine"]
    holder = sqlite3.connect(db_file, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        # The app's pooled connections wait busy_timeout (10 s) for the lock: make it short for the test.
        for connection in [engine.raw_connection() for _ in range(5)]:
            connection.driver_connection.execute("PRAGMA busy_timeout=20")
            connection.close()
        answer = application.test_client().post("/api/customers", json={"Email": "a@example.com",
                                                                          "FirstName": "A", "LastName": "B"})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.get_json()["ErrorCode"] == "DATABASE_BUSY"
