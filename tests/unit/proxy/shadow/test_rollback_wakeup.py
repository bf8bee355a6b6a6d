"""Auto-rollback's judge runs when a hook gives it something (or a deadline it waits for comes), at most once
every EVAL_SECONDS, instead of waking an idle façade every EVAL_SECONDS (issue 21)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path

import pytest
from shadow_harness import Rig, run, table_text

from proxy.addons import rollback as rollback_module
from proxy.table import State, load_table


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(table_text("new", 25, rollback="{max_error_rate: 0.3, min_samples: 10}"))
    return path


def test_idle_judge_sleeps_until_an_outcome_then_rolls_back(routes: Path, _isolated_var_dir, monkeypatch) -> None:
    monkeypatch.setattr(rollback_module, "EVAL_SECONDS", 0.01)

    async def body(rig: Rig) -> None:
        rb = rig.rollback
        judged = []
        evaluate = rb.evaluate_now
        monkeypatch.setattr(rb, "evaluate_now", lambda: judged.append(1) or evaluate())
        rb.running()
        for _ in range(100):  # the first look (bounded wait)
            if judged:
                break
            await asyncio.sleep(0.01)
        assert rb._next_deadline() is None  # nothing pending, no retry: no timeout
        await asyncio.sleep(0.2)  # twenty EVAL_SECONDS: an idle judge is not woken by a clock
        assert judged == [1] and rb._wake is not None and not rb._wake.is_set()
        for i in range(10):
            rig.answer(
                rig.send(path=f"/api/items/{i}", headers={"X-Strangler-Cohort": f"user-{i % 5}"}),
                status=500 if i % 2 else 200,
            )
        assert rb._wake.is_set()
        for _ in range(300):  # judged without evaluate_now being called here, then flipped in a thread
            if rb.history:
                break
            await asyncio.sleep(0.02)
        assert rb.history and rb.history[-1]["to_state"] == "canary"
        assert load_table(routes).features["items"].state is State.CANARY

    run(routes, body)


def test_pending_outcomes_and_retries_give_the_judge_a_deadline(routes: Path, _isolated_var_dir) -> None:
    async def body(rig: Rig) -> None:
        rb = rig.rollback
        assert rb._next_deadline() is None
        rb._pending["items"] = deque([(time.monotonic() + 5.0, "user-1", True, 1.0)])
        assert 0 < rb._next_deadline() <= 5.0
        rb._pending.clear()
        rig.answer(rig.send(headers={"X-Strangler-Cohort": "user-1"}), status=500)  # the window changed
        rb._retry_after["items"] = time.monotonic() + 3.0  # after a failed flip
        assert 0 < rb._next_deadline() <= 3.0
        rig.tctx.options.strangler_auto_rollback = False
        assert rb._next_deadline() is None  # switched off: nothing is judged, nothing to wait for

    run(routes, body)
