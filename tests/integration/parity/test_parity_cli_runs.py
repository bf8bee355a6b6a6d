"""`strangler parity run` and `strangler load` against real servers: exit codes follow parity and thresholds."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[3]
Stack = Any  # the `stack` fixture of conftest.py


def parity_run(stack: Stack, store: Path, *extra: str) -> subprocess.CompletedProcess:
    return stack.cli("parity", "run", "--reference", stack.legacy, "--candidate", stack.service, "--feature",
                     "catalog", "--routes", str(REPO / "config/routes.yaml"), "--mix", str(stack.mix),
                     "--mix-name", "products", "--users", "2", "--run-time", "3s", "--store", str(store), *extra)


def test_equal_services_pass_and_servertime_is_cancelled_as_noise(stack: Stack) -> None:
    store = stack.tmp / "equal.db"
    done = parity_run(stack, store)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(stack.cli("parity", "report", "catalog", "--json", "--store", str(store)).stdout)
    catalog = report["features"]["catalog"]
    assert catalog["compared"] > 10 and catalog["verdict"] == "equal"
    verdicts = {f["field"]: f["verdict"] for f in catalog["fields"]}
    assert verdicts.get("$.ServerTime") == "noise"
    assert catalog["suggested_ignores"] == ["$.ServerTime"]
    assert (stack.tmp / "var" / "locust" / "parity_stats.csv").exists()


def test_diverging_price_fails_with_the_field_path_and_exports_a_failing_test(stack: Stack) -> None:
    db = sqlite3.connect(stack.catalog_db)
    (before,) = db.execute("SELECT price_minor FROM products WHERE id = 2").fetchone()
    db.execute("UPDATE products SET price_minor = price_minor + 1 WHERE id = 2")
    db.commit()
    try:
        store = stack.tmp / "diverged.db"
        done = parity_run(stack, store)
        assert done.returncode != 0
        assert "parity mismatch on field $.UnitPrice" in done.stderr, done.stderr[-3000:]
        listed = json.loads(stack.cli("parity", "examples", "catalog", "--field", "$.UnitPrice", "--json",
                                      "--store", str(store)).stdout)
        assert listed and listed[0]["request"]["path"] == "/api/products/2"
        out = stack.tmp / "export"
        exported = stack.cli("parity", "export", str(listed[0]["id"]), "--out", str(out), "--store", str(store))
        assert exported.returncode == 0, exported.stderr
        (test_file,) = out.glob("test_parity_mismatch_*.py")
        env = {**os.environ, "PARITY_REFERENCE_URL": stack.legacy, "PARITY_CANDIDATE_URL": stack.service}
        replay = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file),
                                 "--rootdir", str(out)], env=env, cwd=REPO, capture_output=True, text=True,
                                timeout=60)
        assert replay.returncode == 1 and "candidate still differs on $.UnitPrice" in replay.stdout, replay.stdout
    finally:
        db.execute("UPDATE products SET price_minor = ? WHERE id = 2", (before,))
        db.commit()
        db.close()
    fixed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file),
                            "--rootdir", str(out)], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert fixed.returncode == 0, fixed.stdout


def test_load_passes_thresholds_and_fails_an_impossible_p95(stack: Stack) -> None:
    common = ("load", "--host", stack.legacy, "--mix", str(stack.mix), "--mix-name", "products", "--users", "2",
              "--run-time", "3s", "--max-fail-ratio", "0.01")
    ok = stack.cli(*common, "--max-p95-ms", "10000", "--processes", "2")
    assert ok.returncode == 0, ok.stderr[-3000:]
    bad = stack.cli(*common, "--max-p95-ms", "0.001", "--csv", str(stack.tmp / "bad"))
    assert bad.returncode == 1
    assert "THRESHOLD FAILED: p95" in bad.stderr
    assert (stack.tmp / "bad_stats.csv").exists()


def test_non_loopback_targets_are_refused(stack: Stack) -> None:
    done = stack.cli("load", "--host", "http://192.0.2.10:80", "--run-time", "2s")
    assert done.returncode == 2 and "not a loopback address" in done.stderr
    done = parity_run(stack, stack.tmp / "x.db", "--reference", "http://example.com")
    assert done.returncode == 2 and "not a loopback address" in done.stderr


def test_max_requests_caps_a_run(stack: Stack) -> None:
    prefix = stack.tmp / "capped"
    done = stack.cli("load", "--host", stack.legacy, "--mix", str(stack.mix), "--mix-name", "products", "--users",
                     "2", "--run-time", "60s", "--max-requests", "10", "--csv", str(prefix))
    assert done.returncode == 0, done.stderr[-2000:]
    rows = (prefix.parent / f"{prefix.name}_stats.csv").read_text().splitlines()
    aggregated = next(r for r in rows if ",Aggregated," in r).split(",")
    assert 1 <= int(aggregated[2]) <= 10
