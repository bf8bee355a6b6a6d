"""Auto-rollback: window maths, the one-state-back rule, and the addon flipping the real route table file."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from shadow_harness import Rig, run, table_text

from proxy.shadow.window import DEFAULT_CANARY_PERCENT, Window, evaluate, step_back
from proxy.table import RollbackConfig, State, load_table


def test_window_counts_only_the_last_n_outcomes() -> None:
    w = Window(4)
    for err in (True, True, False, False, False):
        w.outcome(err, 10.0)
    assert (w.outcomes, w.errors, w.error_rate()) == (4, 1, 0.25)
    for differs in (True, False, True, True, False, False):
        w.parity(differs)
    assert (w.comparisons, w.differences) == (4, 2)


def test_p95_is_nearest_rank_and_skips_missing_latencies() -> None:
    w = Window(20)
    for ms in range(1, 20):
        w.outcome(False, float(ms))
    w.outcome(True, None)
    assert w.p95_ms() == 19.0  # 19 latencies: rank ceil(0.95*19)=19
    w2 = Window(100)
    for ms in range(1, 101):
        w2.outcome(False, float(ms))
    assert w2.p95_ms() == 95.0


def test_no_decision_before_min_samples_then_the_limit_crossed() -> None:
    cfg = RollbackConfig(max_error_rate=0.2, max_p95_ms=50, max_diff_rate=0.1, min_samples=10)
    w = Window(cfg.min_samples)
    for i in range(9):
        w.outcome(True, 5.0, f"client-{i % 3}")
    assert evaluate(cfg, w)[0] is None  # 9 < min_samples, however bad
    w.outcome(True, 5.0, "client-0")
    breach, evidence = evaluate(cfg, w)
    assert (breach.limit, breach.value, breach.samples) == ("max_error_rate", 1.0, 10)
    assert evidence["errors"] == 10 and evidence["error_rate"] == 1.0
    assert "max_error_rate" in breach.reason() and "100.0% > 20.0%" in breach.reason()


def test_latency_and_diff_limits() -> None:
    cfg = RollbackConfig(max_p95_ms=50, max_diff_rate=0.25, min_samples=4, min_clients=1)
    w = Window(4)
    for ms in (10, 20, 30, 40):
        w.outcome(False, float(ms))
    assert evaluate(cfg, w)[0] is None
    w.outcome(False, 80.0)
    assert evaluate(cfg, w)[0].limit == "max_p95_ms"
    w = Window(4)
    for differs in (True, False, False, False):
        w.parity(differs)
    assert evaluate(cfg, w)[0] is None  # 25 % is not above 25 %
    w.parity(True)  # the oldest (a difference) leaves the window: still 25 %
    assert evaluate(cfg, w)[0] is None
    w.parity(True)
    assert evaluate(cfg, w)[0].limit == "max_diff_rate"


@pytest.mark.parametrize(("state", "percent", "expected"), [
    (State.NEW, 30, (State.CANARY, 30)), (State.NEW, 0, (State.CANARY, DEFAULT_CANARY_PERCENT)),
    (State.CANARY, 5, (State.SHADOW, None)), (State.SHADOW, 0, None), (State.LEGACY, 0, None),
    (State.RETIRED, 0, None),
])
def test_one_state_back(state: State, percent: float, expected) -> None:
    assert step_back(state, percent) == expected


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text("# kept comment\n" + table_text("new", 25, rollback="{max_error_rate: 0.3, min_samples: 10}"))
    return path


async def _wait_flip(rig: Rig) -> None:
    for _ in range(200):
        if not rig.rollback.flips:
            return
        await asyncio.sleep(0.02)


def test_errors_in_new_roll_back_to_canary_then_to_shadow_with_ledger_evidence(routes: Path, _isolated_var_dir) -> None:
    async def body(rig: Rig) -> None:
        for i in range(10):
            f = rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"user-{i % 5}"})
            assert f.metadata["strangler"].upstream == "svc"
            rig.answer(f, status=500 if i % 2 else 200)
        assert rig.rollback.evaluate_now() == ["items"]
        await _wait_flip(rig)
        table = load_table(routes)
        assert table.features["items"].state is State.CANARY and table.features["items"].canary_percent == 25
        assert routes.read_text().startswith("# kept comment")
        assert rig.state.current.table.features["items"].state is State.CANARY  # reloaded
        assert rig.rollback.windows["items"].outcomes == 0  # fresh window in the new state
        assert rig.metric("strangler_rollbacks_total", feature="items", limit="max_error_rate") == 1
        # canary 25 %: the cohorts served by the target keep failing (connect errors) -> back to shadow
        served = 0
        for i in range(400):
            f = rig.send(path="/api/items/1", headers={"X-Strangler-Cohort": f"user-{i}"})
            if f.metadata["strangler"].upstream == "svc":
                served += 1
                rig.fail(f)
            else:
                rig.answer(f)
            if served == 10:
                break
        assert rig.rollback.evaluate_now() == ["items"]
        await _wait_flip(rig)
        assert load_table(routes).features["items"].state is State.SHADOW
        assert "items" not in rig.rollback.windows  # shadow is not judged
        ledger = [json.loads(line) for line in (_isolated_var_dir / "ledger.jsonl").read_text().splitlines()]
        assert [(r["from_state"], r["to_state"], r["actor"]) for r in ledger] == [
            ("new", "canary", "auto-rollback"), ("canary", "shadow", "auto-rollback")]
        assert ledger[0]["evidence"]["errors"] == 5 and ledger[0]["evidence"]["limit"] == "max_error_rate"
        assert ledger[1]["evidence"]["error_rate"] == 1.0 and "max_error_rate" in ledger[1]["reason"]

    run(routes, body)


def test_healthy_target_is_not_rolled_back(routes: Path) -> None:
    async def body(rig: Rig) -> None:
        for i in range(30):
            rig.answer(rig.send(path=f"/api/items/{i}"), status=500 if i == 3 else 200)
        assert rig.rollback.evaluate_now() == []
        assert load_table(routes).features["items"].state is State.NEW

    run(routes, body)


def test_parity_differences_in_canary_roll_back(tmp_path: Path, _isolated_var_dir) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("canary", 100, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 rollback="{max_diff_rate: 0.5, min_samples: 6}"))

    async def body(rig: Rig) -> None:
        for i in range(6):
            rig.answer(rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"u{i}"}),
                       body={"id": 7, "price": "1.00" if i < 2 else "2.00"})
        await rig.settle()
        assert rig.rollback.windows["items"].differences == 4
        assert rig.rollback.evaluate_now() == ["items"]
        await _wait_flip(rig)
        (record,) = rig.rollback.history
        assert record["to_state"] == "shadow" and record["evidence"]["limit"] == "max_diff_rate"

    run(routes, body)


def test_rollback_never_undoes_a_newer_operator_flip(routes: Path) -> None:
    async def body(rig: Rig) -> None:
        for i in range(10):
            rig.answer(rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"u{i}"}), status=500)
        routes.write_text(table_text("legacy", 25, rollback="{max_error_rate: 0.3, min_samples: 10}"))
        assert rig.rollback.evaluate_now() == ["items"]  # judged on the old snapshot, file changed under it
        await _wait_flip(rig)
        assert load_table(routes).features["items"].state is State.LEGACY
        assert rig.metric("strangler_rollback_failures_total", feature="items") == 1
        assert rig.rollback.history == []

    run(routes, body)


def test_writes_refused_by_the_targets_open_breaker_count_as_errors(routes: Path) -> None:
    routes.write_text(table_text("new", 25, rollback="{max_error_rate: 0.3, min_samples: 10}", writes_owner="service"))

    async def body(rig: Rig) -> None:
        rig.state.current.breakers["svc"].record_failure()
        for _ in range(5):
            rig.state.current.breakers["svc"].record_failure()
        f = rig.send("POST", "/api/items/1", b"{}")
        assert f.response.status_code == 503
        g = rig.send("GET", "/api/items/1")
        assert g.metadata["strangler"].fallback == "breaker_open"
        rig.answer(g)
        window = rig.rollback.windows["items"]
        assert (window.outcomes, window.errors) == (2, 2)

    run(routes, body)
