"""A real orders service (uvicorn) whose database fails every read (issue 16 item 5): N failing requests log N
error lines, each with its request id, and ONE traceback (rate-limited per error type); each answer is a 500
problem on a connection that stays open, and uvicorn logs no traceback of its own. The catalog's twin is
tests/integration/catalog/test_catalog_busy.py; both services install the error log through
new_services/common/app.py, and this proves the orders app does."""
from __future__ import annotations

import http.client
import itertools
import json
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from strangler_app.identity import HEADER, Principal, sign

from strangler.procs import free_port, running
from tests.identity_auth import IDENTITY_KEY, SERVICE_ENV

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
APP = "new_services.orders.main:app"
PATH = "/v2/orders/1"
FAILURES = 30


@dataclass(frozen=True)
class Service:
    url: str
    db_file: Path
    log: Path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The orders service alone on its own SQLite file (not the folder's shared stack: this breaks its table)."""
    tmp = tmp_path_factory.mktemp("orders-flood")
    port = free_port()
    env = {"ORDERS_DATABASE_URL": f"sqlite:///{tmp}/orders.db", "STRANGLER_VAR_DIR": str(tmp / "var"),
           "STRANGLER_SHADOW_KEY": "flood-test-shadow-key-0123456789",
           "LEGACY_BASE_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens: reads never ask legacy
           **SERVICE_ENV}
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port)],
                 health_url=f"{url}/healthz", env=env, cwd=REPO, log_path=tmp / "orders.log"):
        yield Service(url=url, db_file=tmp / "orders.db", log=tmp / "orders.log")


def test_n_failures_log_n_lines_and_one_traceback(service: Service) -> None:
    """A real fault: the orders table is renamed away, so every read of an order fails; then it is put back."""
    before = service.log.read_text(errors="replace").count("\n")
    with sqlite3.connect(service.db_file) as db:
        db.execute("ALTER TABLE orders RENAME TO orders_away")
    try:
        # One http.client connection for all: it does not reconnect, so a server that closed the connection after
        # a 500 (uvicorn does when the app re-raises) fails the next request here.
        connection = http.client.HTTPConnection(service.url.removeprefix("http://"), timeout=30)
        try:
            for i in range(FAILURES):
                identity = sign(IDENTITY_KEY, Principal("1"), method="GET", path=PATH)  # single-use: one each
                connection.request("GET", PATH, headers={"X-Request-ID": f"flood-{i}", HEADER: identity})
                answer = connection.getresponse()
                body = answer.read()
                assert answer.status == 500, (i, answer.status, body[:300])
                assert json.loads(body)["status"] == 500
        finally:
            connection.close()
    finally:
        with sqlite3.connect(service.db_file) as db:
            db.execute("ALTER TABLE orders_away RENAME TO orders")
    text = service.log.read_text(errors="replace")
    added = text.count("\n") - before
    errors = [line for line in text.splitlines() if f"unhandled error on GET {PATH}" in line]
    print(f"\n{FAILURES} failing requests: {added} log lines, {len(errors)} error lines, "
          f"{text.count('Traceback (most recent call last)')} 'Traceback' header(s) (one chained traceback)")
    assert len(errors) == FAILURES, text[-3000:]
    assert [line.split("request_id=")[1].split(":")[0] for line in errors] == [f"flood-{i}" for i in range(FAILURES)]
    assert "request_id=flood-0: OperationalError: no such table: orders" in errors[0], errors[0]
    assert all("traceback suppressed" in line for line in errors[1:]), errors[1]
    lines = text.splitlines()
    tracebacks = sum(1 for line, after in itertools.pairwise(lines)
                     if "unhandled error on" in line and after.startswith("Traceback"))
    assert tracebacks == 1
    assert "Exception in ASGI application" not in text  # the server logged no second traceback
    first = lines.index(errors[0])
    block = next(i for i in range(first + 1, len(lines))
                 if lines[i].startswith(("INFO:", "unhandled error"))) - first - 1
    assert added - block <= 2 * FAILURES + 2  # an access line and an error line per request, besides the traceback


def test_the_service_answers_again_once_the_table_is_back(service: Service) -> None:
    """Runs after the flood: the same process serves normally (404 for an order that does not exist)."""
    connection = http.client.HTTPConnection(service.url.removeprefix("http://"), timeout=30)
    try:
        connection.request("GET", PATH, headers={HEADER: sign(IDENTITY_KEY, Principal("1"), method="GET",
                                                              path=PATH)})
        answer = connection.getresponse()
        assert answer.status == 404, answer.read()[:300]
    finally:
        connection.close()
