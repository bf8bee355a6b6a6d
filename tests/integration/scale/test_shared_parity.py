"""Two separate processes record shadow comparisons into ONE PostgreSQL parity store (chosen by the same
STRANGLER_STORE_URL that moves the route table), and the real `strangler parity report --json --store URL`
shows the summed counts."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.shared_store import SharedStore

pytestmark = [pytest.mark.integration, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[3]

WRITER = """
import sys
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.result import RequestInfo, compare_exchange
from proxy.parity.store import configured_store
who, n = sys.argv[1], int(sys.argv[2])
store = configured_store(batch_size=25, flush_interval=0.02)  # no argument: $STRANGLER_STORE_URL decides
assert type(store).__name__ == "PgParityStore", type(store)
ref = Response.of(200, {"content-type": "application/json"}, '{"Id": 1, "Price": "1.00"}')
bad = Response.of(200, {"content-type": "application/json"}, '{"Id": 1, "Price": "1.10"}')
for i in range(n):
    store.record(compare_exchange(Normaliser(), feature="shared", route="/things/{id}",
                 request=RequestInfo.of("GET", f"/things/{i}"), reference=ref,
                 candidate=bad if i % 10 == 0 else ref, reference_url="http://127.0.0.1:1",
                 candidate_url="http://127.0.0.1:2", latency_ms=float(i % 7), error="refused" if i == 1 else None))
store.close()
print(who, "wrote", n, "dropped", store.dropped)
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("STRANGLER_PARITY_STORE", "STRANGLER_STORE_URL")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**env, **extra}


def test_two_processes_share_one_postgres_parity_store(pg_store: SharedStore, tmp_path: Path) -> None:
    env = _env(STRANGLER_STORE_URL=pg_store.url, STRANGLER_VAR_DIR=str(tmp_path))
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, name, "400"], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    outs = [w.communicate(timeout=60) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], outs
    assert all("dropped 0" in out for out, _ in outs), outs
    assert not (tmp_path / "parity.db").exists()  # nothing went to the local SQLite default

    cli = subprocess.run([sys.executable, "-m", "strangler", "parity", "report", "shared", "--json",
                          "--store", pg_store.url], env=_env(STRANGLER_VAR_DIR=str(tmp_path)), cwd=ROOT,
                         capture_output=True, text=True, timeout=60, check=False)
    assert cli.returncode == 0, cli.stderr
    report = json.loads(cli.stdout)
    feat = report["features"]["shared"]
    assert (feat["compared"], feat["errors"]) == (2 * 399, 2)
    (price,) = [f for f in feat["fields"] if f["field"] == "$.Price"]
    # field verdicts are over the recent window (parity.window, default 500 per route) of the shared samples,
    # whose mix of the two writers depends on how their batches interleaved: every 10th of each writer differs
    recent = feat["recent"]
    assert (recent["window"], recent["compared"] + recent["errors"]) == (500, 500)
    assert price["compared"] == recent["compared"] and 45 <= price["raw"] <= 55
    assert price["raw"] == recent["mismatches"] and price["verdict"] == "real" and price["examples"] == 5
    assert feat["window"]["samples"] == 200  # the report's window: the last 200 of the 800 shared samples
    assert report["store"].startswith("postgresql://") and pg_store.schema in report["store"]
