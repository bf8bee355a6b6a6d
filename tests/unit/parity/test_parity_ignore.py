"""proxy/parity/ignore.add_ignore_rules: a route-table edit with a ledger record, comments kept."""
from __future__ import annotations

from pathlib import Path

import pytest

from proxy.flips import FlipError
from proxy.ledger import read_records
from proxy.parity.ignore import add_ignore_rules
from proxy.table import load_table

TABLE = """\
# operators' notes: kept
upstreams:
  old: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:8101"}
default: old
features:
  items:  # the catalog
    target: svc
    state: canary
    canary_percent: 10
    parity:
      ignore: ["$.etag"]
    routes:
      - {methods: [GET], path: "/api/items"}
  other:
    target: svc
    state: shadow
    routes:
      - {methods: [GET], path: "/api/other"}
"""


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(TABLE)
    return path


def test_adds_only_missing_rules_keeps_comments_and_ledgers_them(routes: Path, tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    added = add_ignore_rules(routes, "items", ["$.etag", "$.served_at"], actor="tester", ledger_path=ledger)
    assert added == ["$.served_at"]
    text = routes.read_text()
    assert "# operators' notes: kept" in text and "# the catalog" in text
    assert load_table(routes).features["items"].parity.ignore == ["$.etag", "$.served_at"]
    [record] = read_records(ledger)
    assert (record["actor"], record["feature"], record["from_state"], record["to_state"]) == \
        ("tester", "items", "canary", "canary")
    assert record["from_percent"] == record["to_percent"] == 10.0
    assert record["evidence"] == {"action": "parity.ignore.add", "added": ["$.served_at"]}


def test_a_feature_without_a_parity_block_gets_one(routes: Path, tmp_path: Path) -> None:
    added = add_ignore_rules(routes, "other", ["$.ts"], actor="tester", ledger_path=tmp_path / "ledger.jsonl")
    assert added == ["$.ts"]
    assert load_table(routes).features["other"].parity.ignore == ["$.ts"]


def test_an_unknown_feature_is_refused_and_nothing_changes(routes: Path, tmp_path: Path) -> None:
    with pytest.raises(FlipError, match="itmes"):
        add_ignore_rules(routes, "itmes", ["$.x"], actor="tester", ledger_path=tmp_path / "ledger.jsonl")
    assert routes.read_text() == TABLE
    assert not (tmp_path / "ledger.jsonl").exists()
