"""The façade's history writer and the endpoint that reads it, driven through the real façade addons
(routing, upstream guard, telemetry) and the real admin app: what the counters saw is what the history says."""
from __future__ import annotations

import asyncio
import time

import pytest
from dashboard_harness import TOKEN, login

from proxy.common.clock import stamp
from proxy.history import INTERVAL_S
from proxy.history.recorder import HistoryRecorder, facade_history
from proxy.shadow.metrics import shadow_metrics

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def canary(facade, percent: int = 50) -> None:
    facade.write(facade.routes.read_text().replace("state: legacy\n    canary_percent: 0",
                                                   f"state: canary\n    canary_percent: {percent}", 1))
    assert facade.state.reload()


def traffic(facade, n: int) -> dict[str, dict[str, int]]:
    """n requests on items; svc answers every other one with 503, one legacy request gets no answer."""
    seen: dict[str, dict[str, int]] = {}
    failed = False
    for i in range(n):
        f = facade.send(facade.flow(headers={"X-Strangler-Cohort": f"user-{i}"}))
        side = "target" if f.metadata["strangler"].upstream == "svc" else "legacy"
        got = seen.setdefault(side, {"requests": 0, "e5xx": 0, "enone": 0})
        got["requests"] += 1
        if side == "legacy" and not failed:
            facade.fail(f)
            got["enone"] += 1
            failed = True
            continue
        status = 503 if side == "target" and i % 2 else 200
        got["e5xx"] += status == 503
        facade.answer(f, status=status)
    return seen


def column(doc: dict, side: str, key: str) -> list:
    return doc["series"][side][key]


def test_a_tick_writes_what_the_counters_saw_per_side_and_the_endpoint_reads_it(client, facade) -> None:
    canary(facade)
    seen = traffic(facade, 40)
    shadow = shadow_metrics(facade.state.metrics.registry)
    shadow.count("items", "copy", "ok", 7)
    shadow.count("items", "copy", "timeout", 1)
    shadow.compared("items", "match", 6)
    shadow.compared("items", "diff", 2)
    shadow.compared("items", "error", 1)
    recorder = HistoryRecorder(facade.state, facade.telemetry.no_answer)
    ts = int(time.time()) // INTERVAL_S * INTERVAL_S - INTERVAL_S
    assert recorder.tick(ts) >= 3

    assert client.get("/dashboard/api/history").status_code == 401
    login(client)  # the page's session reads it like /ui/data
    doc = client.get("/dashboard/api/history?feature=items&range=1h").json()
    assert doc["feature"] == "items" and doc["features"] == ["files", "items"] and doc["step_s"] == INTERVAL_S
    for side in ("legacy", "target"):
        assert column(doc, side, "t") == [ts]
        assert column(doc, side, "requests") == [seen[side]["requests"]]
        assert column(doc, side, "e5xx") == [seen[side]["e5xx"]]
        assert column(doc, side, "enone") == [seen[side]["enone"]]
        assert column(doc, side, "canary") == [50.0]
        assert column(doc, side, "p95_ms")[0] is not None
    assert column(doc, "target", "error_rate") == [round(seen["target"]["e5xx"] / seen["target"]["requests"], 4)]
    assert column(doc, "shadow", "copies") == [8] and column(doc, "shadow", "copy_errors") == [1]
    assert column(doc, "shadow", "compared") == [8] and column(doc, "shadow", "equal_rate") == [0.75]

    # the next tick holds only what happened since: nothing
    recorder.tick(ts + INTERVAL_S)
    doc = client.get("/dashboard/api/history?feature=items&range=1h", headers=AUTH).json()
    assert column(doc, "target", "requests") == [seen["target"]["requests"], 0]
    assert column(doc, "target", "t") == [ts, ts + INTERVAL_S]


def test_markers_are_the_ledger_flips_and_auto_rollbacks_of_the_feature(client, facade) -> None:
    ledger = facade.state.store
    now = time.time()
    ledger.append_ledger({"ts": stamp(now - 120), "actor": "alice", "feature": "items", "from_state": "legacy",
                          "to_state": "canary", "from_percent": 0, "to_percent": 10, "reason": "start"})
    ledger.append_ledger({"ts": stamp(now - 60), "actor": "auto-rollback", "feature": "items",
                          "from_state": "canary", "to_state": "legacy", "reason": "error rate 0.4 > 0.05"})
    ledger.append_ledger({"ts": stamp(now - 30), "actor": "bob", "feature": "files", "from_state": "legacy",
                          "to_state": "shadow"})
    ledger.append_ledger({"ts": stamp(now - 7200), "actor": "carol", "feature": "items", "to_state": "shadow"})
    doc = client.get("/dashboard/api/history?feature=items&range=1h", headers=AUTH).json()
    assert [(m["kind"], m["actor"], m["to_state"]) for m in doc["markers"]] == [
        ("flip", "alice", "canary"), ("rollback", "auto-rollback", "legacy")]  # not files', not 2 h old
    assert doc["markers"][1]["reason"] == "error rate 0.4 > 0.05"
    assert len(client.get("/dashboard/api/history?feature=items&range=6h", headers=AUTH).json()["markers"]) == 3


def test_a_bad_range_is_refused_with_the_fix(client) -> None:
    r = client.get("/dashboard/api/history?range=2w", headers=AUTH)
    assert r.status_code == 400 and "Fix: ?range=1h" in r.json()["message"]
    r = client.get("/dashboard/api/history?range=7d", headers=AUTH)
    assert r.headers["server-timing"].startswith("history;dur=")  # the benchmark reads the façade's own time
    doc = r.json()
    assert doc["feature"] == "files" and doc["resolution_s"] == 1800 and doc["step_s"] == 1800  # the rollup


def test_stopping_the_facade_writes_the_last_partial_interval(facade) -> None:
    """`done` (mitmdump shutting down) writes what the running interval saw, so a restart loses nothing."""
    canary(facade, 100)
    recorder = HistoryRecorder(facade.state, facade.telemetry.no_answer)

    async def run() -> None:
        recorder.running()
        seen = traffic(facade, 5)
        assert seen
        await recorder.done()
    asyncio.run(run())
    store = facade_history(facade.state)
    now = int(time.time())
    points = store.points("items", res=INTERVAL_S, since=now - 60, until=now + 60, step=60)
    assert sum(p.values["requests"] for p in points) == 5


def test_a_broken_store_is_logged_once_and_never_raises(facade, caplog, tmp_path, monkeypatch) -> None:
    (tmp_path / "file").write_text("a file where the store's folder should be")
    monkeypatch.setenv("STRANGLER_PARITY_STORE", str(tmp_path / "file" / "parity.db"))
    recorder = HistoryRecorder(facade.state, facade.telemetry.no_answer)
    with caplog.at_level("ERROR", logger="strangler.facade"):
        assert recorder.tick(0) == 0 and recorder.tick(10) == 0
    assert len([r for r in caplog.records if "history not written" in r.getMessage()]) == 1


@pytest.mark.postgres
def test_two_facades_on_the_shared_store_write_one_history(facade) -> None:
    """Two façades (their own counters) on one PostgreSQL store: one bucket with the sum of both and the p95 of
    all their requests (from the merged histogram), read back through the endpoint's document."""
    from proxy.addons.state import FacadeState
    from proxy.history.api import history_document
    from proxy.shared_store import store_for
    from tests.unit.dashboard.test_history_store import pg_url

    url = pg_url()
    other = FacadeState()
    other.current = facade.state.current
    try:
        for state, n, seconds in ((facade.state, 90, 0.004), (other, 10, 0.8)):
            state.store_url = url
            for _ in range(n):
                state.metrics.observe("items", "legacy", "legacy", 200, seconds)
        ts = int(time.time()) // INTERVAL_S * INTERVAL_S - INTERVAL_S
        for state in (facade.state, other):
            assert HistoryRecorder(state).tick(ts) >= 2
        doc = history_document(facade_history(other), facade.state.store, "items", "1h")
        assert column(doc, "legacy", "requests") == [100]
        assert 500 < column(doc, "legacy", "p95_ms")[0] <= 1000  # 10 % of all requests were slow: p95 is slow
        assert column(doc, "legacy", "p50_ms")[0] <= 5
    finally:
        import psycopg

        with psycopg.connect(store_for(url).conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{store_for(url).schema}" CASCADE')
