"""Auto-rollback counts regressions, not noise: errors legacy also returned are not counted, a status-class
change vs legacy counts under its own limit, and no limit acts before `min_clients` distinct clients."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from shadow_harness import LEGACY_PORT, SVC_PORT, Rig, run, table_text

from proxy.shadow.window import Window, evaluate, is_status_change
from proxy.table import RollbackConfig, State, load_table


def test_errors_both_sides_return_are_seen_but_not_counted() -> None:
    cfg = RollbackConfig(max_error_rate=0.1, min_samples=10)
    w = Window(10)
    for i in range(10):
        w.outcome(True, 5.0, f"c{i}", regression=False)  # legacy failed the same request
    breach, evidence = evaluate(cfg, w)
    assert breach is None
    assert (evidence["errors"], evidence["regressions"], evidence["error_rate"]) == (10, 0, 0.0)
    for i in range(2):
        w.outcome(True, 5.0, f"c{i}")  # legacy's answer unknown: counts
    assert (w.errors, w.regressions) == (10, 2)
    assert evaluate(cfg, w)[0] is None  # 2 regressions, from 2 clients < min_clients 3
    w.outcome(True, 5.0, "c2", regression=True)
    breach, evidence = evaluate(cfg, w)
    assert (breach.limit, breach.clients, evidence["regressions"]) == ("max_error_rate", 3, 3)
    assert "from 3 clients" in breach.reason()


def test_one_client_cannot_roll_back_alone_and_the_hold_is_in_the_evidence() -> None:
    cfg = RollbackConfig(max_error_rate=0.1, min_samples=5, min_clients=2)
    w = Window(5)
    for _ in range(5):
        w.outcome(True, 1.0, "mallory")
    breach, evidence = evaluate(cfg, w)
    assert breach is None and evidence["error_rate"] == 1.0
    assert evidence["held"] == ["max_error_rate crossed by 1 client (< rollback.min_clients 2)"]
    w.outcome(True, 1.0, "alice")
    assert evaluate(cfg, w)[0].clients == 2


def test_clients_leave_with_their_outcomes() -> None:
    w = Window(3)
    for client in ("a", "b", "c", "d", "d", "d"):
        w.outcome(True, 1.0, client)
    assert (w.regressions, w.clients("max_error_rate"), w.clients("max_p95_ms")) == (3, 1, 1)
    for client in ("a", "b", "c", "c"):
        w.parity(True, client, status_change=client != "c")
    assert (w.differences, w.clients("max_diff_rate"), w.status_changes, w.clients("max_status_change_rate")) \
        == (3, 2, 1, 1)


def test_status_change_has_its_own_limit() -> None:
    assert is_status_change("status_class", 200) and is_status_change("status_class", 404)
    assert not is_status_change("status_class", 500)  # legacy failed; the target answering is no regression
    assert not is_status_change("body", 200) and not is_status_change("status", 200)
    cfg = RollbackConfig(max_status_change_rate=0.2, min_samples=10)
    w = Window(10)
    for i in range(10):
        w.parity(False, f"u{i}", status_change=i >= 8)
    assert evaluate(cfg, w)[0] is None  # 20 % is not above 20 %
    w.parity(False, "u10", status_change=True)
    breach, evidence = evaluate(cfg, w)
    assert (breach.limit, evidence["status_changes"], evidence["diff_rate"]) == ("max_status_change_rate", 3, 0.0)


async def _wait_flip(rig: Rig) -> None:
    for _ in range(200):
        if not rig.rollback.flips:
            return
        await asyncio.sleep(0.02)


def test_logged_in_403_in_canary_rolls_back_on_the_status_change(tmp_path: Path, _isolated_var_dir) -> None:
    """Canary 100 % with shadow_other_side: the target 403s while legacy answers 200 (both directions of the
    comparison count, whoever served)."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("canary", 100, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 rollback="{max_error_rate: 0.05, max_status_change_rate: 0.2, min_samples: 10}"))

    async def body(rig: Rig) -> None:
        rig.upstreams.status[SVC_PORT] = 403
        for i in range(10):
            f = rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"user-{i}",
                                                          "Authorization": "Bearer t"})
            assert f.metadata["strangler"].upstream == "svc"
            rig.answer(f, status=403, body={"error": "forbidden"})
        await rig.settle()
        window = rig.rollback.windows["items"]
        assert (window.outcomes, window.errors, window.status_changes) == (10, 0, 10)
        assert rig.rollback.evaluate_now() == ["items"]
        await _wait_flip(rig)
        (record,) = rig.rollback.history
        assert record["to_state"] == "shadow" and record["evidence"]["limit"] == "max_status_change_rate"
        assert record["evidence"]["samples"] == 10 and record["evidence"]["clients"] == 10

    run(routes, body)


def test_in_new_errors_legacy_also_returns_never_roll_back(tmp_path: Path) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("new", 0, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 rollback="{max_error_rate: 0.05, min_samples: 10}"))

    async def body(rig: Rig) -> None:
        rig.upstreams.status[LEGACY_PORT] = 500
        for i in range(20):
            rig.answer(rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"user-{i}"}), status=500)
        await rig.settle()
        window = rig.rollback.windows["items"]
        assert (window.outcomes, window.errors, window.regressions) == (10, 10, 0)
        assert rig.rollback.evaluate_now() == []
        assert load_table(routes).features["items"].state is State.NEW

    run(routes, body)


def test_a_comparison_limit_without_shadow_other_side_is_warned_once(tmp_path: Path, caplog) -> None:
    """Issue 18's logged-in outage: max_status_change_rate set, but canary without shadow_other_side compares
    nothing, so the limit can never act; the façade says so when it loads the table (once), not silently."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("canary", 50, parity="{noise_sample_rate: 0}",
                                 rollback="{max_error_rate: 0.05, max_status_change_rate: 0.2, min_samples: 10}"))

    async def body(rig: Rig) -> None:
        rig.rollback._on_swap(rig.state.current)  # a reload of the same table: not said again
        f = rig.send(path="/api/items/1", headers={"X-Strangler-Cohort": "user-1", "Authorization": "Bearer t"})
        rig.answer(f, status=403, body={"error": "forbidden"})
        await rig.settle()
        assert rig.rollback.windows["items"].comparisons == 0  # what the warning is about

    with caplog.at_level("WARNING", logger="strangler.facade"):
        run(routes, body)
    warned = [r.getMessage() for r in caplog.records if "cannot act" in r.getMessage()]
    assert warned == ["feature 'items' (canary): rollback.max_status_change_rate cannot act: without "
                      "parity.shadow_other_side nothing is compared with legacy in canary/new. Fix: set "
                      "features.items.parity.shadow_other_side: true"]


def test_no_warning_when_comparisons_feed_the_limit(tmp_path: Path, caplog) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("canary", 50, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 rollback="{max_status_change_rate: 0.2, max_diff_rate: 0.1, min_samples: 10}"))

    async def body(rig: Rig) -> None:
        assert "items" in rig.rollback.windows

    with caplog.at_level("WARNING", logger="strangler.facade"):
        run(routes, body)
    assert not [r for r in caplog.records if "cannot act" in r.getMessage()]


def test_a_target_5xx_whose_comparison_never_comes_still_counts(tmp_path: Path, monkeypatch) -> None:
    """In new with shadow_other_side, each target-served answer waits for its comparison with legacy. When
    legacy's copy fails (or the worker loses the job) no comparison comes: the outcome was left out of the
    window for good, so a target failing every request with legacy unreachable rolled nothing back. It now
    counts uncompared once twice legacy's timeout has passed, and a late comparison does not count it twice."""
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("new", 0, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 rollback="{max_error_rate: 0.05, min_samples: 10}"))

    async def body(rig: Rig) -> None:
        answer = type(rig.upstreams).__call__

        async def legacy_down(self, request: httpx.Request) -> httpx.Response:
            if request.url.port == LEGACY_PORT:
                raise httpx.ConnectError("legacy refused the copy")
            return await answer(self, request)

        monkeypatch.setattr(type(rig.upstreams), "__call__", legacy_down)
        for i in range(10):
            rig.answer(rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"user-{i}"}), status=500)
        await rig.settle()
        window = rig.rollback.windows["items"]
        assert window.outcomes == 0 and rig.rollback.evaluate_now() == []  # waiting for comparisons
        rig.rollback._expire(time.monotonic() + 3600)  # later than twice legacy's timeout
        assert (window.outcomes, window.errors, window.regressions) == (10, 10, 10)
        assert not rig.rollback._settle("items", "user-1", True)  # a late comparison finds nothing to settle
        assert rig.rollback.evaluate_now() == ["items"]
        await _wait_flip(rig)
        (record,) = rig.rollback.history
        assert (record["to_state"], record["evidence"]["limit"]) == ("canary", "max_error_rate")

    run(routes, body)


def test_outcomes_waiting_for_comparisons_are_bounded(tmp_path: Path, monkeypatch) -> None:
    """Beyond PENDING_MAX waiting outcomes per feature, the oldest counts uncompared at once (never dropped)."""
    import proxy.addons.rollback as rollback

    monkeypatch.setattr(rollback, "PENDING_MAX", 4)
    routes = tmp_path / "routes.yaml"
    routes.write_text(table_text("new", 0, parity="{shadow_other_side: true, noise_sample_rate: 0}",
                                 rollback="{max_error_rate: 0.05, min_samples: 10}"))

    async def body(rig: Rig) -> None:
        rig.upstreams.gate = asyncio.Event()  # no comparison completes while the requests come in
        for i in range(10):
            rig.answer(rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"user-{i}"}), status=500)
        window = rig.rollback.windows["items"]
        assert (window.outcomes, window.regressions, len(rig.rollback._pending["items"])) == (6, 6, 4)
        rig.upstreams.gate.set()

    run(routes, body)
