"""A real stack per backend for the write-safety suite: the migrate suite's databases (SQLite files, or two fresh
PostgreSQL databases when STRANGLER_TEST_PG_URL is set), then every process of tests/integration/write_safety/
stack.py on free loopback ports, always stopped."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.migrate.conftest import Databases, dbs  # noqa: F401 - the backend-parametrised fixture
from tests.integration.write_safety.stack import WriteStack, write_stack

SEED_PRODUCTS = 40


@pytest.fixture
def stack(dbs: Databases, tmp_path: Path) -> Iterator[WriteStack]:  # noqa: F811
    with write_stack(dbs, tmp_path, SEED_PRODUCTS) as running:
        yield running
