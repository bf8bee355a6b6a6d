"""One flip changes routing and write ownership together: one table edit under the lock, one ledger record
naming both owners; in the table file and in the shared PostgreSQL store alike."""
from __future__ import annotations

import difflib
import os
import uuid

import pytest

from proxy.flips import FlipError, flip_feature
from proxy.ledger import read_records
from proxy.shared_store import SharedStore
from proxy.table import State, WritesOwner, load_table


def _changed(before: str, after: str) -> list[str]:
    return [d for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:1] in "+-"]


def test_state_and_owner_in_one_edit_and_one_record(routes_file, ledger_file, table_text):
    record = flip_feature(routes_file, "one", "new", writes_owner="service", actor="t", reason="handover")
    assert _changed(table_text, routes_file.read_text()) == [
        "-     state: legacy", "+     state: new", "+     writes_owner: service"]
    feature = load_table(routes_file).features["one"]
    assert (feature.state, feature.writes_owner) == (State.NEW, WritesOwner.SERVICE)
    [line] = read_records(ledger_file)
    assert line == record.to_dict()
    assert (line["from_state"], line["to_state"], line["from_writes_owner"], line["to_writes_owner"]) == \
        ("legacy", "new", "legacy", "service")


def test_owner_only_flip_keeps_the_state_and_skips_the_promotion_gates(routes_file, ledger_file):
    asked = []

    def refuse_everything(table, feature, to):
        asked.append(to)
        return ["promotion evidence missing"]

    record = flip_feature(routes_file, "two", None, writes_owner=WritesOwner.SERVICE, actor="t",
                          gates=[refuse_everything])
    assert asked == [] and record.changed and (record.from_state, record.to_state) == ("shadow", "shadow")
    assert load_table(routes_file).features["two"].writes_owner is WritesOwner.SERVICE
    again = flip_feature(routes_file, "two", None, writes_owner="service", actor="t")
    assert again.changed is False and len(read_records(ledger_file)) == 1  # a no-op is not ledgered
    text = routes_file.read_text()
    flip_feature(routes_file, "two", None, writes_owner="legacy", actor="t")
    assert _changed(text, routes_file.read_text()) == ["-     writes_owner: service", "+     writes_owner: legacy"]


def test_gates_see_the_owner_the_flip_leaves_in_force(routes_file, ledger_file):
    seen = []

    def gate(table, feature, to):
        seen.append(table.features[feature].writes_owner)
        return []

    flip_feature(routes_file, "one", "shadow", writes_owner="service", actor="t", gates=[gate])
    flip_feature(routes_file, "one", "canary", percent=5, actor="t", gates=[gate])
    assert seen == [WritesOwner.SERVICE, WritesOwner.SERVICE]


def test_unknown_owner_is_refused_and_nothing_written(routes_file, ledger_file, table_text):
    with pytest.raises(FlipError, match="unknown writes owner 'servce'; use legacy or service"):
        flip_feature(routes_file, "one", "new", writes_owner="servce", actor="t")
    assert routes_file.read_text() == table_text and not ledger_file.exists()


def test_records_from_before_writes_owner_still_read(routes_file, ledger_file):
    ledger_file.parent.mkdir(parents=True, exist_ok=True)
    ledger_file.write_text('{"ts": "2026-01-01T00:00:00Z", "actor": "a", "feature": "one", "from_state": "legacy", '
                           '"to_state": "shadow", "from_percent": null, "to_percent": null, "reason": "", '
                           '"evidence": {}, "forced": false}\n')
    flip_feature(routes_file, "one", "shadow", writes_owner="service", actor="t", ledger_path=ledger_file)
    old, new = read_records(ledger_file, feature="one")
    assert "to_writes_owner" not in old and new["to_writes_owner"] == "service"


@pytest.mark.postgres
def test_shared_store_flips_state_and_owner_with_one_ledger_row():
    base = os.environ.get("STRANGLER_TEST_PG_URL", "").strip()
    if not base:
        pytest.skip("STRANGLER_TEST_PG_URL is not set: the shared-store tests need a PostgreSQL server")
    store = SharedStore(f"{base}{'&' if '?' in base else '?'}schema=u_{uuid.uuid4().hex[:12]}")
    store.push('upstreams:\n  old: {url: "http://127.0.0.1:5000"}\n  alpha: {url: "http://127.0.0.1:8101"}\n'
               'default: old\nfeatures:\n  one:\n    target: alpha\n    state: new\n    routes:\n'
               '      - {methods: [GET, POST], path: "/api/things"}\n', actor="test")
    try:
        with pytest.raises(FlipError, match="legacy owns 'one''s writes"):
            flip_feature(store, "one", "retired", actor="t")
        flip_feature(store, "one", "retired", writes_owner="service", actor="t", reason="done")
        assert "state: retired\n    writes_owner: service\n" in store.read_text() and store.version() == 2
        [row] = read_records(store)
        assert (row["to_state"], row["from_writes_owner"], row["to_writes_owner"]) == \
            ("retired", "legacy", "service")
    finally:
        store.drop()
