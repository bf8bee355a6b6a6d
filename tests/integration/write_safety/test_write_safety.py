"""No write lost, none duplicated, none committed on the side that did not own writes (issue 15).

Four clients create, update and deactivate products through the façade while the feature goes legacy →
shadow → canary 50 → new, the sync is killed and restarted, writes are handed over to the service, the service
is killed and restarted, the feature goes retired → new → canary 50, writes are handed back to legacy and the
feature flips back to legacy. Then: every acknowledged write is on both sides, once; `migrate verify` passes; and the audit
triggers show no row written directly (not by the sync) into a database while it did not own writes.
Run with -s to see the counts.
"""
from __future__ import annotations

import pytest

from tests.integration.write_safety.conftest import SEED_PRODUCTS
from tests.integration.write_safety.scenario import CYCLE, run_scenario, settle_and_check
from tests.integration.write_safety.stack import WriteStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CLIENTS, PER_PHASE = 4, 4  # writes per client per phase: 4 × 4 × 14 phases = 224 writes


def test_no_write_lost_duplicated_or_foreign(stack: WriteStack) -> None:
    run = run_scenario(stack, clients=CLIENTS, per_phase=PER_PHASE, seed_products=SEED_PRODUCTS, steps=CYCLE)
    counts = settle_and_check(stack, run)
    summary = counts.line(stack.dbs.backend, run, len(run.outcomes))
    print("\n" + summary + "\nsteps: " + ", ".join(f"{name} {ended - began:.1f}s" for name, began, ended in run.steps))
    assert len(run.outcomes) == CLIENTS * PER_PHASE * (len(CYCLE) + 1), summary
    assert counts.acknowledged > 0 and counts.served_by, summary
    assert counts.safe, summary + "\n" + "\n".join(counts.problems[:25])
