"""load/bench_parity.py's own parts: the requests it sends and how it reads Locust's stats. No run here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from load import bench_parity
from load.mix import load_mix

REPO = Path(__file__).resolve().parents[3]


def test_its_labels_are_the_parity_users_own() -> None:
    """In a child interpreter: importing Locust's modules monkey-patches the process with gevent."""
    code = ("import json; from load import thresholds; from load.locust_base import LOGIN_LABEL; "
            "from load.locustfile_parity import IDENTITY_LABEL; "
            "print(json.dumps([thresholds.REFERENCE_PREFIX, LOGIN_LABEL, IDENTITY_LABEL]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    prefix, login, identity = json.loads(done.stdout.strip().splitlines()[-1])
    assert bench_parity.REFERENCE_PREFIX == prefix
    assert {login, identity} <= bench_parity.NOT_COMPARED


def test_the_mix_is_the_read_mixs_catalog_requests(tmp_path: Path) -> None:
    entries = load_mix(bench_parity.catalog_mix(tmp_path), "catalog")
    assert entries and all(e.route.startswith("/api/products") for e in entries)
    assert {e.name for e in entries} >= {"list products", "get product"}


def test_stats_split_compared_and_reference_rows(tmp_path: Path) -> None:
    header = "Type,Name,Request Count,Failure Count,Requests/s\n"
    rows = ["GET,/api/products,30,0,3.0", "GET,[reference] /api/products,60,1,6.0", "POST,login,5,0,0.5",
            ",Aggregated,95,1,9.5"]
    (tmp_path / "run_stats.csv").write_text(header + "\n".join(rows) + "\n")
    assert bench_parity.stats(tmp_path / "run") == {"compared": 3.0, "reference": 6.0, "failures": 1.0}
