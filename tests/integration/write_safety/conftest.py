"""A real stack per backend for the write-safety suite: the migrate suite's databases (SQLite files, or two fresh
PostgreSQL databases when STRANGLER_TEST_PG_URL is set), then every process of tests/integration/write_safety/
stack.py on free loopback ports, always stopped."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.migrate.conftest import Databases, dbs  # noqa: F401 - the backend-parametrised fixture
from tests.integration.write_safety.scenario import CYCLE, run_scenario, settle_and_check
from tests.integration.write_safety.stack import WriteStack, write_stack

SEED_PRODUCTS = 40
CLIENTS, PER_PHASE = 4, 4  # writes per client per phase: 4 × 4 × 14 phases = 224 writes


@pytest.fixture
def stack(dbs: Databases, tmp_path: Path) -> Iterator[WriteStack]:  # noqa: F811
    with write_stack(dbs, tmp_path, SEED_PRODUCTS) as running:
        yield running


def check_write_safety(stack: WriteStack) -> None:
    """The scenario with fixed counts; prints the counts (pytest -s) and fails naming every problem."""
    run = run_scenario(stack, clients=CLIENTS, per_phase=PER_PHASE, seed_products=SEED_PRODUCTS, steps=CYCLE)
    counts = settle_and_check(stack, run)
    summary = counts.line(stack.dbs.backend, run, len(run.outcomes))
    print("\n" + summary + "\nsteps: " + ", ".join(f"{name} {ended - began:.1f}s" for name, began, ended in run.steps))
    assert len(run.outcomes) == CLIENTS * PER_PHASE * (len(CYCLE) + 1), summary
    assert counts.acknowledged > 0 and counts.served_by, summary
    assert counts.safe, summary + "\n" + "\n".join(counts.problems[:25])
