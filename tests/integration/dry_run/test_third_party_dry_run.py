"""Shadowed writes against a real third-party FastAPI service (tests/fixtures/loans_app.py) behind a real
mitmdump façade in `shadow` with `dry_run_writes: true`.

Without the adapter the target never acknowledges: the worker's probe finds that out before the first
write copy, so not one row is committed on the target, the target is marked unsafe (parity store, one ledger
entry) and the report, status and probe-writes say "target ignores dry-run — writes not shadowed". With the
adapter's ASGI middleware installed (two lines: tests/fixtures/loans_adapted.py) the probe passes, the
copies run and are compared, and still no row is committed on the target."""
from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from proxy.ledger import read_records
from proxy.parity import ParityStore
from proxy.parity.store import UNSAFE_TEXT
from tests.integration.dry_run.conftest import Stack, committed_delay_ms, loans_stack, rows

pytestmark = pytest.mark.integration
WRITES = 10


def _post_loans(facade: str, prefix: str) -> None:
    with httpx.Client(base_url=facade, timeout=10) as client:
        for n in range(WRITES):
            answer = client.post("/loans", json={"ref": f"{prefix}-{n}", "isbn": "978-0-14-044913-6",
                                                 "member": f"m{n}"})
            assert answer.status_code == 201, answer.text
            assert answer.headers["x-served-by"] == "legacy"


def _wait(condition, what: str, timeout: float = 60.0, stack: Stack | None = None) -> None:
    """Poll `condition`; on time-out say what the shadow side counted and what the façade logged last."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            seen = "" if stack is None else f"\n{stack.shadow_metrics()}\nfaçade log:\n{stack.log_tail()}"
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{seen}")
        time.sleep(0.1)


def test_a_target_that_ignores_the_protocol_commits_nothing_and_is_reported(tmp_path: Path) -> None:
    with loans_stack(tmp_path, "loans_app:app") as stack:
        _post_loans(stack.facade, "plain")
        dropped = lambda: sum(stack.metric("strangler_shadow_dropped_total", feature="loans", reason=r)
                              for r in ("target_unsafe", "unproven"))
        _wait(lambda: dropped() == WRITES, f"{WRITES} write copies dropped", stack=stack)
        assert stack.metric("strangler_shadow_dropped_total", feature="loans", reason="target_unsafe") >= 1
        assert rows(stack.target_db) == 0 and rows(stack.legacy_db) == WRITES

        with ParityStore(stack.parity_db, background=False) as store:
            target = store.targets()["books"]
        assert (target["state"], target["feature"]) == ("unsafe", "loans")
        print(f"\nfirst unsafe answer (probe) -> unsafe verdict committed in the parity store: "
              f"{committed_delay_ms(stack):.1f} ms")
        _wait(lambda: read_records(stack.ledger), "the ledger entry", timeout=10)
        (entry,) = read_records(stack.ledger)
        assert entry["evidence"]["action"] == "dry_run.unsafe" and UNSAFE_TEXT in entry["reason"]

        report = stack.cli("parity", "report", "--store", str(stack.parity_db))
        assert report.returncode == 0 and UNSAFE_TEXT in report.stdout, report.stdout + report.stderr
        status = stack.cli("status", "--json")
        assert json.loads(status.stdout)["dry_run"]["targets"]["books"]["says"] == UNSAFE_TEXT, status.stdout
        probe = stack.cli("parity", "probe-writes", "loans", "--routes", str(stack.routes))
        assert probe.returncode == 1 and "writes will NOT be shadowed" in probe.stderr, probe.stdout + probe.stderr

        # flip away and back: the flip happens (reads are safe) and says writes will not be shadowed
        assert stack.cli("flip", "loans", "--to", "legacy", "--routes", str(stack.routes)).returncode == 0
        flip = stack.cli("flip", "loans", "--to", "shadow", "--routes", str(stack.routes), "--json")
        assert flip.returncode == 0, flip.stdout + flip.stderr
        result = json.loads(flip.stdout)
        assert result["to_state"] == "shadow" and result["probe_writes"]["writes_shadowed"] is False
        assert UNSAFE_TEXT in result["probe_writes"]["detail"]
        assert rows(stack.target_db) == 0


def test_with_the_adapter_the_probe_passes_and_copies_are_compared_then_rolled_back(tmp_path: Path) -> None:
    with loans_stack(tmp_path, "loans_adapted:app", state="legacy") as stack:
        flip = stack.cli("flip", "loans", "--to", "shadow", "--routes", str(stack.routes))
        assert flip.returncode == 0 and "writes will be shadowed" in flip.stdout, flip.stdout + flip.stderr
        with ParityStore(stack.parity_db, background=False) as store:
            assert store.targets()["books"]["state"] == "proven"
        _wait(lambda: httpx.get(stack.facade + "/loans", timeout=5).headers.get("x-strangler-feature") == "loans"
              and stack.metric("strangler_shadow_requests_total", feature="loans", kind="copy", outcome="ok") > 0,
              "the façade to serve the flipped table", timeout=15)
        _post_loans(stack.facade, "adapted")
        compared = lambda: stack.metric("strangler_shadow_comparisons_total", feature="loans", result="match")
        _wait(lambda: compared() >= WRITES + 1, f"{WRITES} writes compared", stack=stack)
        assert stack.metric("strangler_shadow_comparisons_total", feature="loans", result="diff") == 0
        assert stack.metric("strangler_shadow_dropped_total", feature="loans", reason="target_unsafe") == 0
        assert rows(stack.target_db) == 0 and rows(stack.legacy_db) == WRITES
        def stored() -> int:  # the worker writes results to the store in batches, after the metric counts them
            with ParityStore(stack.parity_db, background=False) as store:
                return {r.route: r.compared for r in store.route_stats("loans")}.get("/loans", 0)
        _wait(lambda: stored() >= WRITES, f"{WRITES} write comparisons stored")
        with ParityStore(stack.parity_db, background=False) as store:
            assert store.targets()["books"]["state"] == "proven"
        actions = [(r.get("evidence") or {}).get("action") for r in read_records(stack.ledger)]
        assert "dry_run.proven" in actions and "dry_run.unsafe" not in actions
