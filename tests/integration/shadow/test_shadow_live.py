"""Shadow traffic and auto-rollback through REAL processes: mitmdump + façade addons, the legacy monolith
under gunicorn, the catalog service under uvicorn after a real backfill, a tiny failing upstream."""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from proxy.parity import ParityStore, Verdict
from proxy.table import State, load_table
from tests.integration.shadow.conftest import wait_for

pytestmark = pytest.mark.integration
Stack = Any  # the `stack` fixture of conftest.py
DEADLINE_S = 20.0




def fields(stack: Stack, feature: str = "catalog") -> dict[tuple[str, str], Any]:
    if not stack.parity_db.exists():
        return {}
    with ParityStore(stack.parity_db, background=False) as store:
        return {(s.route, s.field): s for s in store.field_stats(feature)}


def rows(db, query: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


def test_divergent_field_is_found_with_its_json_path(stack: Stack) -> None:
    with sqlite3.connect(stack.catalog_db) as conn:  # the service now disagrees on one product's price
        conn.execute("UPDATE products SET price_minor = price_minor + 100 WHERE id = 3")
    with httpx.Client(timeout=10) as client:
        served = [client.get(f"{stack.facade}/api/products/{pid}") for pid in (1, 2, 3, 4)]
        direct = client.get(f"{stack.legacy}/api/products/3").json()
    assert all(r.status_code == 200 and r.headers["X-Served-By"] == "legacy" for r in served)
    assert served[2].json()["UnitPrice"] == direct["UnitPrice"]  # the client got legacy's answer

    def found():
        stat = fields(stack).get(("/api/products/{id}", "$.UnitPrice"))
        return stat if stat is not None and stat.counts.compared >= 4 else None

    stat = wait_for(found, "the UnitPrice difference in the parity store")
    assert stat.verdict is Verdict.REAL and stat.counts.raw == 1 and stat.counts.noise == 0
    assert {k for k in fields(stack) if k[0] == "/api/products/{id}"} == {("/api/products/{id}", "$.UnitPrice")}
    with ParityStore(stack.parity_db, background=False) as store:
        (example,) = store.examples("catalog", "$.UnitPrice")
    assert example.request["path"] == "/api/products/3" and example.difference["path"] == "$.UnitPrice"


def test_server_time_is_cancelled_as_noise_and_proposed_as_ignore_rule(stack: Stack) -> None:
    with httpx.Client(timeout=10) as client:
        for page in (1, 2, 3):
            assert client.get(f"{stack.facade}/api/products?page={page}&page_size=10").status_code == 200

    def seen():
        stat = fields(stack).get(("/api/products", "$.ServerTime"))
        return stat if stat is not None and stat.counts.noise_samples >= 3 else None

    stat = wait_for(seen, "ServerTime in the parity store")
    assert stat.verdict is Verdict.NOISE and stat.counts.noise == 3
    import strangler.cli.parity  # noqa: F401 - registers `strangler parity`
    from strangler.cli.app import app

    out = CliRunner().invoke(app, ["parity", "suggest-ignores", "catalog", "--store", str(stack.parity_db),
                                   "--routes", str(stack.routes), "--json"])
    assert out.exit_code == 0, out.output
    assert "$.ServerTime" in json.loads(out.output)["suggested"]


def test_writes_in_shadow_hit_legacy_exactly_once_and_never_the_service_database(stack: Stack) -> None:
    catalog_before = rows(stack.catalog_db, "SELECT * FROM products ORDER BY id")
    copies_before = stack.metric("strangler_shadow_requests_total", feature="catalog", kind="copy", outcome="ok")
    log_before = stack.legacy_access_log.read_text().count('"POST /api/products HTTP') if \
        stack.legacy_access_log.exists() else 0
    writes = [("POST", "/api/products", {"Sku": f"SHADOW-{i}", "Name": f"Shadow {i}", "Category": "TOYS",
                                          "UnitPrice": "3.10"}) for i in range(3)]
    writes += [("PUT", "/api/products/5", {"Name": "Renamed through the facade"}),
               ("POST", "/api/products/6/deactivate", None)]
    with httpx.Client(timeout=10) as client:
        for method, path, body in writes:
            r = client.request(method, stack.facade + path, **({"json": body} if body is not None else {}))
            assert r.status_code in (200, 201) and r.headers["X-Served-By"] == "legacy", r.text
    wait_for(lambda: stack.metric("strangler_shadow_requests_total", feature="catalog", kind="copy",
                                  outcome="ok") >= copies_before + len(writes), "the shadowed writes")
    for i in range(3):
        assert rows(stack.legacy_db, f"SELECT COUNT(*) FROM PRODUCTS WHERE PROD_SKU = 'SHADOW-{i}'") == [(1,)]
    assert rows(stack.legacy_db, "SELECT PROD_NM FROM PRODUCTS WHERE PROD_ID = 5") == [("Renamed through the facade",)]
    assert rows(stack.legacy_db, "SELECT ACTV_FLG FROM PRODUCTS WHERE PROD_ID = 6") == [("N",)]
    time.sleep(1.0)  # gunicorn writes its access log lines after answering
    log = stack.legacy_access_log.read_text()
    assert log.count('"POST /api/products HTTP') - log_before == 3  # each write reached legacy once
    assert log.count('"PUT /api/products/5 HTTP') == 1 and log.count('"POST /api/products/6/deactivate HTTP') == 1
    assert rows(stack.catalog_db, "SELECT * FROM products ORDER BY id") == catalog_before
    assert stack.metric("strangler_shadow_dropped_total", feature="catalog", reason="no_shadow_key") == 0


def test_failing_target_in_new_is_rolled_back_by_the_facade(stack: Stack) -> None:
    assert load_table(stack.routes).features["flaky"].state is State.NEW
    end = time.monotonic() + DEADLINE_S
    with httpx.Client(timeout=10) as client:
        n = 0
        while time.monotonic() < end and load_table(stack.routes).features["flaky"].state is State.NEW:
            for _ in range(10):  # several users: rollback.min_clients (3) keeps one client from rolling back
                client.get(f"{stack.facade}/flaky/{n}", headers={"X-Strangler-Cohort": f"user-{n % 5}"})
                n += 1
            time.sleep(0.05)
    assert load_table(stack.routes).features["flaky"].state is State.CANARY
    assert load_table(stack.routes).features["flaky"].canary_percent == 50
    (entry,) = [json.loads(line) for line in stack.ledger.read_text().splitlines()
                if json.loads(line)["actor"] == "auto-rollback"]
    assert (entry["feature"], entry["from_state"], entry["to_state"]) == ("flaky", "new", "canary")
    evidence = entry["evidence"]
    assert evidence["limit"] == "max_error_rate" and evidence["outcomes"] == 20
    assert evidence["error_rate"] > 0.2 and evidence["errors"] >= 5
    assert "max_error_rate" in entry["reason"]
    wait_for(lambda: stack.metric("strangler_rollbacks_total", feature="flaky", limit="max_error_rate") == 1,
             "the rollback metric")
    wait_for(lambda: stack.admin_get("/routes").status_code == 200 and "canary" in stack.admin_get("/routes").text,
             "the façade serving the rolled-back table")


def test_shadow_worker_is_a_process_of_its_own_and_is_restarted_when_it_dies(stack: Stack) -> None:
    import os
    import signal

    pid = int(wait_for(lambda: stack.metric("strangler_shadow_worker_pid"), "the shadow worker's pid"))
    assert pid > 0 and pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    new_pid = int(wait_for(lambda: (p := stack.metric("strangler_shadow_worker_pid")) not in (0, pid) and p,
                           "a restarted shadow worker"))
    assert stack.metric("strangler_shadow_worker_restarts_total") == 1
    before = stack.metric("strangler_shadow_comparisons_total", feature="catalog", result="match")
    with httpx.Client(timeout=10) as client:  # shadowing goes on with the new worker
        assert client.get(f"{stack.facade}/api/products/8").status_code == 200
    wait_for(lambda: stack.metric("strangler_shadow_comparisons_total", feature="catalog", result="match") > before,
             "a comparison by the restarted worker")
    assert stack.metric("strangler_shadow_worker_pid") == new_pid
