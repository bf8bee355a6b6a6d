"""The ownership flip gate reads the writes owner from the route table and refuses while the forward sync lags
beyond its limit (not only when it stopped reporting); handover asks the same question (`sync_problems`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from proxy.table import parse_table
from strangler.migrate.gate import check, ownership_gate, sync_problems
from strangler.migrate.ownership import feature_state, ownership_path, record_backfill, record_sync

TABLE = """\
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:8101"}
default: legacy
features:
  cat:
    target: svc
    state: canary
    canary_percent: 10
    writes_owner: OWNER
    routes:
      - {methods: [GET, POST], path: "/api/cats"}
"""


def test_lag_beyond_the_limit_refuses_with_the_limit_named(tmp_path: Path, monkeypatch) -> None:
    path = ownership_path(tmp_path)
    record_backfill(path, "cat", {"CATS": 1})
    record_sync(path, "cat", "forward", 45.0)
    [reason] = check("cat", "new", tmp_path)
    assert "forward sync lags 45.0s behind (limit 30s, STRANGLER_SYNC_MAX_LAG_S)" in reason
    assert check("cat", "new", tmp_path, max_lag_s=60) == []
    monkeypatch.setenv("STRANGLER_SYNC_MAX_LAG_S", "50")
    assert check("cat", "new", tmp_path) == []
    monkeypatch.setenv("STRANGLER_SYNC_MAX_LAG_S", "fifty")  # a typo never switches the gate off
    assert check("cat", "new", tmp_path) != []


def test_sync_problems_name_the_direction_and_why(tmp_path: Path) -> None:
    path = ownership_path(tmp_path)
    record_sync(path, "cat", "reverse", 0.0)
    entry = feature_state(path, "cat")
    assert sync_problems(entry, "reverse") == []
    [unknown] = sync_problems(entry, "forward")
    assert "the forward sync lag is unknown (no report; recorded direction: reverse)" in unknown
    assert "it is not running" in sync_problems({"sync": {"direction": "reverse", "lag_s": 0, "updated_at": "x"}},
                                                "reverse")[0]


@pytest.mark.parametrize(("owner", "gated"), [("legacy", True), ("service", False)])
def test_the_gate_takes_the_owner_from_the_route_table(tmp_path: Path, monkeypatch, owner: str, gated: bool) -> None:
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path))
    record_backfill(ownership_path(tmp_path), "cat", {"CATS": 1})  # ownership.json still says legacy
    table = parse_table(TABLE.replace("OWNER", owner))
    reasons = ownership_gate(table, "cat", "new")
    assert bool(reasons) is gated
    if gated:
        assert "legacy still owns writes" in reasons[0] and "handover cat --writes service" in reasons[0]


def test_records_use_the_kit_stamp_and_old_second_stamps_still_read(tmp_path: Path) -> None:
    """ownership.json is stamped with clock.stamp (ms, Z); a file written before (seconds, +00:00) keeps working."""
    from datetime import UTC, datetime, timedelta

    from proxy.common.clock import parse_stamp
    from proxy.table import WritesOwner
    from strangler.migrate.ownership import record_writes_owner

    path = ownership_path(tmp_path)
    before = datetime.now(UTC) - timedelta(milliseconds=1)  # the stamp keeps milliseconds: either side may round
    record_sync(path, "cat", "forward", 1.0)
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    entry = feature_state(path, "cat")
    assert entry is not None and entry["writes_owner"] == WritesOwner.LEGACY == "legacy"
    written = entry["sync"]["updated_at"]
    assert written.endswith("Z") and len(written) == len("2026-12-06T20:55:09.123Z")
    assert before <= parse_stamp(written) <= after  # stamped at the write, in UTC
    old = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")  # "...+00:00", before the change
    record_sync(path, "cat", "forward", 1.0, when=old)
    assert sync_problems(feature_state(path, "cat"), "forward") == []
    stale = (datetime.now(UTC) - timedelta(hours=2)).isoformat(timespec="seconds")
    record_sync(path, "cat", "forward", 1.0, when=stale)
    assert "it is not running" in sync_problems(feature_state(path, "cat"), "forward")[0]
    record_writes_owner(path, "cat", "service", "reverse", 0.0)
    assert '"writes_owner": "service"' in path.read_text()
    with pytest.raises(ValueError, match="writes owner must be 'legacy' or 'service', not 'svc'"):
        record_writes_owner(path, "cat", "svc", "reverse", 0.0)
