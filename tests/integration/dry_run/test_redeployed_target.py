"""A target that proved it rolls writes back, then is redeployed without the adapter (real processes: the
third-party FastAPI app of tests/fixtures, a real mitmdump façade in `shadow` with `dry_run_writes: true`).

The probe passed before the deploy, so only the answers to write copies can tell: the first copy after the
deploy commits (nothing can stop a copy already sent) and its answer, without a valid acknowledgement, marks
the target unsafe — every later copy is dropped and counted, nothing more is committed, the ledger records it
once. Without the per-answer check every copy would commit. Run with -s for the time from that answer to the
stored verdict."""
from __future__ import annotations

from pathlib import Path

import pytest

from proxy.ledger import read_records
from tests.integration.dry_run.conftest import (
    committed_delay_ms,
    loans_stack,
    post_loan,
    prove_then_redeploy,
    rows,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]
LATER = 8  # writes sent after the target was marked unsafe


def test_a_target_redeployed_without_the_adapter_is_unsafe_after_its_first_unacknowledged_answer(
        tmp_path: Path) -> None:
    with loans_stack(tmp_path, "loans_adapted:app", state="legacy") as stack:
        target = prove_then_redeploy(stack)
        assert "no X-Strangler-Dry-Run-Ack" in target["reason"], target
        assert rows(stack.target_db) == 1  # the copy whose answer revealed it

        for n in range(LATER):
            post_loan(stack, f"after-unsafe-{n}")
        dropped = lambda: stack.metric("strangler_shadow_dropped_total", feature="loans", reason="target_unsafe")
        wait_for(lambda: dropped() == LATER, f"{LATER} write copies dropped as target_unsafe")
        assert rows(stack.target_db) == 1 and rows(stack.legacy_db) == LATER + 2
        wait_for(lambda: any((r.get("evidence") or {}).get("action") == "dry_run.unsafe"
                             for r in read_records(stack.ledger)), "the ledger entry", timeout=10)
        actions = [(r.get("evidence") or {}).get("action") for r in read_records(stack.ledger)]
        assert actions.count("dry_run.unsafe") == 1 and "dry_run.proven" in actions, actions
        print(f"\nredeployed target: first unacknowledged write answer -> unsafe verdict committed in the parity "
              f"store: {committed_delay_ms(stack):.1f} ms; rows committed by copies: 1 (the revealing one); later "
              f"copies dropped: {LATER}")
