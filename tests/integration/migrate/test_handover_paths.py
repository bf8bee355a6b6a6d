"""Handover in-process, on SQLite and PostgreSQL: each up-front refusal names its problem and fix and changes
nothing (route table, ledger, ownership.json); a good handover flips the table's writes_owner with one ledger
record, then turns the sync; a one-way handover (no `to_source`, accepted) records no sync direction and can
be handed back. The same with real processes and the façade: test_handover_facade.py."""
from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from proxy.ledger import read_records
from proxy.table import load_table
from strangler.migrate import capture
from strangler.migrate.db import MigrationError, changes
from strangler.migrate.engine import backfill
from strangler.migrate.feature import FeatureRuntime, open_feature
from strangler.migrate.ownership import feature_state, ownership_path, record_backfill, record_sync
from strangler.migrate.runner import HandoverOptions, handover
from tests.integration.migrate.conftest import CONFIG, Databases, seed_legacy

pytestmark = pytest.mark.integration
QUICK = HandoverOptions(quiet_s=0, timeout_s=10)


@pytest.fixture
def ready(dbs: Databases) -> tuple[FeatureRuntime, Path, Path, Path]:
    """Backfilled catalog, capture on both sides, a caught-up forward sync on record, the route table."""
    seed_legacy(dbs.legacy_url, 20)
    rt = open_feature(CONFIG, "catalog", dbs.var_dir)
    rt.create_target_tables()
    capture.install(rt.source, rt.capture_specs("legacy"))
    capture.install(rt.target, rt.capture_specs("service"))
    backfill(rt.mappings[0], rt.source, rt.target, feature="catalog")
    owner_file = ownership_path(dbs.var_dir)
    record_backfill(owner_file, "catalog", {"PRODUCTS": 20})
    record_sync(owner_file, "catalog", "forward", 0.0)
    routes = dbs.var_dir / "routes.yaml"
    routes.write_text((CONFIG.parent / "routes.yaml").read_text())
    yield rt, owner_file, routes, dbs.var_dir / "ledger.jsonl"
    rt.dispose()


def _unchanged(owner_file: Path, routes: Path, ledger: Path):
    return owner_file.read_text(), routes.read_text(), ledger.exists()


def _refusal(rt, owner_file, routes, ledger, writes="service", options=QUICK) -> str:
    before = _unchanged(owner_file, routes, ledger)
    with pytest.raises(MigrationError) as info:
        handover(rt, owner_file, writes, routes, options)
    assert _unchanged(owner_file, routes, ledger) == before
    message = str(info.value)
    assert message.startswith(f"handover of catalog to {writes} refused; nothing changed:") and "Fix:" in message
    return message


def test_each_refusal_names_problem_and_fix_and_changes_nothing(ready) -> None:
    rt, owner_file, routes, ledger = ready
    one_way = dataclasses.replace(rt, mappings=[dataclasses.replace(rt.mappings[0], to_source=None)], _routes={})
    assert "no reverse translator (`to_source`) on PRODUCTS→products" in _refusal(one_way, owner_file, routes, ledger)

    record_sync(owner_file, "catalog", "forward", 0.0, when=(datetime.now(UTC) - timedelta(hours=1)).isoformat())
    message = _refusal(rt, owner_file, routes, ledger)
    assert "the forward sync last reported 3600s ago" in message and "it is not running" in message
    record_sync(owner_file, "catalog", "forward", 45.0)
    assert "the forward sync lags 45.0s behind (limit 30s" in _refusal(rt, owner_file, routes, ledger)
    record_sync(owner_file, "catalog", "forward", 0.0)

    with rt.source.begin() as conn:  # a change the sync has not applied for two minutes
        conn.execute(text("UPDATE PRODUCTS SET PROD_NM = 'Late' WHERE PROD_ID = 2"))
        conn.execute(changes.update().values(captured_at=time.time() - 120))
    assert "1 change(s) wait in the forward change log, the oldest 120s old" in _refusal(rt, owner_file, routes,
                                                                                           ledger)
    assert handover(rt, owner_file, "service", routes, HandoverOptions(quiet_s=0, max_lag_s=300))["changed"]
    with rt.target.connect() as conn:  # drained before the sync turned round
        assert conn.execute(text("SELECT name FROM products WHERE id = 2")).scalar_one() == "Late"


def test_handover_flips_the_table_with_one_record_then_turns_the_sync(ready) -> None:
    rt, owner_file, routes, ledger = ready
    result = handover(rt, owner_file, "service", routes, HandoverOptions(quiet_s=0, reason="canary clean"))
    assert (result["sync_direction"], result["changed"], result["table_changed"]) == ("reverse", True, True)
    assert load_table(routes).features["catalog"].writes_owner.value == "service"
    [record] = read_records(ledger)
    assert (record["from_writes_owner"], record["to_writes_owner"], record["reason"]) == \
        ("legacy", "service", "canary clean")
    assert record["from_state"] == record["to_state"] == "legacy" and record["evidence"]["reverse_sync"] is True
    entry = feature_state(owner_file, "catalog")
    assert (entry["writes_owner"], entry["sync"]["direction"]) == ("service", "reverse")
    again = handover(rt, owner_file, "service", routes, QUICK)
    assert again["changed"] is False and len(read_records(ledger)) == 1


def test_an_interrupted_handover_is_finished_by_running_it_again(ready) -> None:
    from proxy.flips import flip_feature

    rt, owner_file, routes, _ledger = ready
    flip_feature(routes, "catalog", None, writes_owner="service", actor="t")  # step 2 done, then the process died
    record_sync(owner_file, "catalog", "forward", 0.0, when="2000-01-01T00:00:00+00:00")  # no sync since
    result = handover(rt, owner_file, "service", routes, QUICK)
    assert result["changed"] and result["table_changed"] is False
    assert feature_state(owner_file, "catalog")["sync"]["direction"] == "reverse"


def test_one_way_handover_is_explicit_and_can_be_handed_back(ready) -> None:
    rt, owner_file, routes, ledger = ready
    one_way = dataclasses.replace(rt, mappings=[dataclasses.replace(rt.mappings[0], to_source=None)], _routes={})
    accepted = dataclasses.replace(QUICK, without_reverse_sync=True)
    result = handover(one_way, owner_file, "service", routes, accepted)
    assert result["sync_direction"] == "off (no reverse translator)"
    assert feature_state(owner_file, "catalog")["sync"]["direction"] is None
    assert "no reverse translator" in _refusal(one_way, owner_file, routes, ledger, writes="legacy")
    back = handover(one_way, owner_file, "legacy", routes, accepted)
    assert (back["sync_direction"], back["drained_changes"]) == ("forward", 0)
    assert load_table(routes).features["catalog"].writes_owner.value == "legacy"
    assert [json.loads(line)["evidence"]["reverse_sync"] for line in ledger.read_text().splitlines()] == [False, False]


def test_writes_still_reaching_the_old_side_stop_the_handover_at_its_timeout(ready) -> None:
    """Something keeps writing to legacy directly (not through the façade): every drain turn finds changes,
    so no turn is quiet; past --timeout the handover stops with the table flipped
    and the sync not turned, and names the fix. Once the writer stops, running it again finishes it."""
    import threading

    rt, owner_file, routes, _ledger = ready
    stop, written = threading.Event(), []

    def keep_writing() -> None:
        while not stop.is_set():
            with rt.source.begin() as conn:
                conn.execute(text("UPDATE PRODUCTS SET PROD_NM = :n WHERE PROD_ID = 3"), {"n": f"W{len(written)}"})
            written.append(1)
            stop.wait(0.02)

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    try:
        with pytest.raises(MigrationError, match="still arriving after 3s of draining the forward sync"):
            handover(rt, owner_file, "service", routes, HandoverOptions(quiet_s=1.5, timeout_s=3))
    finally:
        stop.set()
        writer.join(timeout=10)
    assert len(written) > 10
    assert load_table(routes).features["catalog"].writes_owner.value == "service"  # the flip happened
    entry = feature_state(owner_file, "catalog")
    assert (entry.get("writes_owner", "legacy"), entry["sync"]["direction"]) == ("legacy", "forward")

    result = handover(rt, owner_file, "service", routes, QUICK)
    assert result["changed"] and result["table_changed"] is False
    with rt.target.connect() as conn:  # the writer's last write was drained before the sync turned
        assert conn.execute(text("SELECT name FROM products WHERE id = 3")).scalar_one() == f"W{len(written) - 1}"
    assert feature_state(owner_file, "catalog")["sync"]["direction"] == "reverse"
