"""No write lost, none duplicated, none committed on the side that did not own writes (issue 15).

Four clients create, update and deactivate products through the façade while the feature goes legacy →
shadow → canary 50 → new, the sync is killed and restarted, writes are handed over to the service, the service
is killed and restarted, the feature goes retired → new → canary 50, writes are handed back to legacy and the
feature flips back to legacy. Then: every acknowledged write is on both sides, once; `migrate verify` passes;
and the audit triggers show no row written directly (not by the sync) into a database while it did not own
writes. Run with -s to see the counts. One file per backend, so the suite's two workers run them side by side.
"""
from __future__ import annotations

import pytest

from tests.integration.write_safety.conftest import check_write_safety
from tests.integration.write_safety.stack import WriteStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


@pytest.mark.parametrize("dbs", ["sqlite"], indirect=True)
def test_no_write_lost_duplicated_or_foreign(stack: WriteStack) -> None:
    check_write_safety(stack)
