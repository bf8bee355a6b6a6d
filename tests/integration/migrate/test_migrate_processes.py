"""Reliability with real processes: a backfill killed with SIGKILL resumes; a killed sync loses no change;
writes through the monolith's real HTTP API (gunicorn) during backfill and sync all arrive."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import select, text

from strangler.migrate import capture
from strangler.migrate.db import checkpoints, open_engine
from strangler.migrate.engine import backfill
from strangler.migrate.feature import open_feature
from strangler.migrate.ownership import ownership_path
from strangler.migrate.runner import live_status, verify_feature
from strangler.procs import free_port, running
from tests.integration.migrate.conftest import CONFIG, ROOT, Databases, seed_legacy, strangler

pytestmark = pytest.mark.integration


def _spawn(args: list[str], env: dict[str, str], log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "strangler", *args], cwd=ROOT, stdout=log, stderr=log,
                            env={**os.environ, **env})


def _wait_for(predicate, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _checkpoint(engine) -> dict | None:
    try:
        with engine.connect() as conn:
            row = conn.execute(select(checkpoints).where(checkpoints.c.feature == "catalog")).mappings().first()
    except Exception:  # noqa: BLE001 - the table appears only after the first batch
        return None
    return dict(row) if row else None


def _verify(dbs: Databases) -> dict:
    """In-process verify (the CLI's exit code and JSON are covered in test_backfill_killed...)."""
    rt = open_feature(CONFIG, "catalog", dbs.var_dir)
    try:
        ok, reports = verify_feature(rt, ownership_path(dbs.var_dir))
    finally:
        rt.dispose()
    assert ok, reports[0].as_dict()
    return reports[0].as_dict()


def _cli_verify(dbs: Databases) -> dict:
    result = strangler("migrate", "verify", "catalog", "--json", env=dbs.env, check=False)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"], result.stdout + result.stderr
    return report["tables"][0]


def test_backfill_killed_with_sigkill_resumes_without_duplicates(dbs: Databases, tmp_path) -> None:
    seed_legacy(dbs.legacy_url, 600)
    target = open_engine(dbs.catalog_url)
    with open(tmp_path / "backfill.log", "wb") as log:
        proc = _spawn(["migrate", "backfill", "catalog", "--batch-size", "3"], dbs.env, log)
        try:
            _wait_for(lambda: (_checkpoint(target) or {}).get("rows_read", 0) >= 45, what="checkpoint to move")
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    killed_at = _checkpoint(target)
    assert killed_at["completed_at"] is None and 45 <= killed_at["rows_read"] < 600  # really killed mid-run

    resumed = json.loads(strangler("migrate", "backfill", "catalog", "--batch-size", "50", "--json",
                                   env=dbs.env).stdout)["tables"][0]
    assert resumed["resumed_from"] is not None and resumed["read"] == 600
    assert resumed["read_this_run"] < 600  # did not start over
    table = _cli_verify(dbs)
    assert (table["matched"], table["target_rows"]) == (600, 600)
    with target.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*), COUNT(DISTINCT sku) FROM products")).one() == (600, 600)
    again = json.loads(strangler("migrate", "backfill", "catalog", "--json", env=dbs.env).stdout)["tables"][0]
    assert again["already_complete"] and again["read_this_run"] == 0
    target.dispose()


def _legacy_writer(url: str, stop: threading.Event, counter: list[int]) -> None:
    """Keep changing legacy PRODUCTS with plain SQL (updates, inserts, deletes) until told to stop."""
    engine = open_engine(url)
    n = 0
    try:
        while not stop.is_set() and n < 400:
            n += 1
            with engine.begin() as conn:
                conn.execute(text("UPDATE PRODUCTS SET PROD_NM = :name, UNIT_PRC = :price WHERE PROD_ID = :id"),
                             {"name": f"Edited {n}", "price": n % 50 + 0.25, "id": n % 40 + 1})
                if n % 5 == 0:
                    conn.execute(text(
                        "INSERT INTO PRODUCTS (PROD_ID, PROD_SKU, PROD_NM, PROD_DESC, CAT_CD, UNIT_PRC, ACTV_FLG, "
                        "CRT_DT, UPD_DT) VALUES (:id, :sku, 'Live', NULL, 'TOYS', 1.50, 'Y', '03/03/2024 10:00', "
                        "'03/03/2024 10:00')"), {"id": 10_000 + n, "sku": f"SKU-L{n}"})
                if n % 15 == 0:
                    conn.execute(text("DELETE FROM PRODUCTS WHERE PROD_ID = :id"), {"id": 10_000 + n - 5})
            time.sleep(0.005)
    finally:
        counter.append(n)
        engine.dispose()


def test_sync_process_killed_and_restarted_loses_no_change(dbs: Databases, tmp_path) -> None:
    seed_legacy(dbs.legacy_url, 40)
    rt = open_feature(CONFIG, "catalog", dbs.var_dir)
    capture.install(rt.source, rt.capture_specs("legacy"))
    backfill(rt.mappings[0], rt.source, rt.target, feature="catalog")
    rt.dispose()
    stop, written = threading.Event(), []
    writer = threading.Thread(target=_legacy_writer, args=(dbs.legacy_url, stop, written))
    writer.start()
    try:
        with open(tmp_path / "sync.log", "wb") as log:
            proc = _spawn(["migrate", "sync", "catalog", "--interval", "0.05", "--batch-size", "7"], dbs.env, log)
            try:
                owner = dbs.var_dir / "ownership.json"
                _wait_for(lambda: owner.exists() and json.loads(owner.read_text())["features"]["catalog"]["sync"]
                          ["lag_s"] is not None, what="the sync to report its lag")
                time.sleep(0.3)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
            finally:
                if proc.poll() is None:
                    proc.kill()
        time.sleep(0.3)  # writes keep arriving while no sync runs
    finally:
        stop.set()
        writer.join(timeout=30)
    assert written and written[0] > 20
    strangler("migrate", "sync", "catalog", "--once", env=dbs.env)
    table = _verify(dbs)
    assert table["matched"] == table["source_rows"] > 40
    rt = open_feature(CONFIG, "catalog", dbs.var_dir)
    status = live_status(rt, ownership_path(dbs.var_dir))
    rt.dispose()
    assert status["live"]["forward"]["pending"] == 0 and status["sync"]["direction"] == "forward"
    assert status["live"]["forward"]["checkpoint"]["applied_count"] >= written[0]


# SQLite only: the SQL-level tests cover PostgreSQL; one gunicorn run keeps the suite fast
@pytest.mark.parametrize("dbs", ["sqlite"], indirect=True)
def test_http_writes_during_backfill_and_sync_all_arrive(dbs: Databases, tmp_path) -> None:
    seed_legacy(dbs.legacy_url, 400)
    strangler("migrate", "capture", "install", "catalog", "--side", "legacy", env=dbs.env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--no-control-socket",
            "legacy_monolith.wsgi:app"]
    with running(argv, health_url=f"{url}/healthz", env={"LEGACY_DATABASE_URL": dbs.legacy_url},
                 log_path=tmp_path / "gunicorn.log", timeout=30), httpx.Client(base_url=url, timeout=10) as client:
        def writes(start: int, count: int) -> None:
            for n in range(start, start + count):
                created = client.post("/api/products", json={"Sku": f"SKU-H{n}", "Name": f"Http {n}",
                                                              "Category": "TOOLS", "UnitPrice": "3.25"})
                assert created.status_code == 201, created.text
                changed = client.put(f"/api/products/{n % 300 + 1}", json={"Name": f"Put {n}", "UnitPrice": "7.77"})
                assert changed.status_code == 200, changed.text

        with open(tmp_path / "backfill.log", "wb") as log:
            proc = _spawn(["migrate", "backfill", "catalog", "--batch-size", "5"], dbs.env, log)
            try:
                writes(0, 30)
                assert proc.wait(timeout=60) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
        with open(tmp_path / "sync.log", "wb") as log:
            health_port = free_port()
            proc = _spawn(["migrate", "sync", "catalog", "--interval", "0.05", "--health-port", str(health_port)],
                          dbs.env, log)
            try:
                def synced_once() -> bool:
                    try:
                        return httpx.get(f"http://127.0.0.1:{health_port}/healthz").json()["rounds"] >= 1
                    except httpx.HTTPError:
                        return False
                _wait_for(synced_once, what="the sync's health endpoint")  # signal handlers are installed by then
                writes(30, 30)
                _wait_for(lambda: httpx.get(f"http://127.0.0.1:{health_port}/healthz").json()["pending"] == 0,
                          what="the running sync to catch up")
            finally:
                proc.send_signal(signal.SIGTERM)  # clean stop after the current round
                assert proc.wait(timeout=20) == 0
    strangler("migrate", "sync", "catalog", "--once", env=dbs.env)
    table = _verify(dbs)
    assert table["target_rows"] == table["source_rows"] == 460 and table["matched"] == 460
