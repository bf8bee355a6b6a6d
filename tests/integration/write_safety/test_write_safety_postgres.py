"""The write-safety scenario of test_write_safety_sqlite.py with both databases on PostgreSQL
(STRANGLER_TEST_PG_URL; skipped without it). Run with -s to see the counts."""
from __future__ import annotations

import pytest

from tests.integration.write_safety.conftest import check_write_safety
from tests.integration.write_safety.stack import WriteStack

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.timeout(300)]


@pytest.mark.parametrize("dbs", ["postgres"], indirect=True)
def test_no_write_lost_duplicated_or_foreign(stack: WriteStack) -> None:
    check_write_safety(stack)
