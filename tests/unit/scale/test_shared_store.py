"""The shared store's control plane against a real PostgreSQL (a unique schema per test, dropped after)."""
from __future__ import annotations

import itertools
import os
import re
import threading
import uuid

import pytest
from typer.testing import CliRunner

import strangler.cli.routes  # registers `routes`, `flip`, `ledger`
from proxy.flips import FlipError, edit_table, flip_feature
from proxy.ledger import read_records
from proxy.shared_store import SharedStore
from strangler.cli.app import app

pytestmark = pytest.mark.postgres
TABLE = """\
# kept across flips
upstreams:
  old: {url: "http://127.0.0.1:5000"}
  alpha: {url: "http://127.0.0.1:8101"}
default: old
features:
  one:
    target: alpha
    state: legacy   # inline comment
    routes:
      - {methods: [GET], path: "/api/things"}
"""


@pytest.fixture
def store(monkeypatch):
    monkeypatch.setattr(strangler.cli.routes, "kit_gates", list)  # the table and ledger, not the kit's gates
    base = os.environ.get("STRANGLER_TEST_PG_URL", "").strip()
    if not base:
        pytest.skip("STRANGLER_TEST_PG_URL is not set: the shared-store tests need a PostgreSQL server")
    s = SharedStore(f"{base}{'&' if '?' in base else '?'}schema=u_{uuid.uuid4().hex[:12]}")
    s.push(TABLE, actor="test")
    yield s
    s.drop()


def test_flip_is_a_versioned_comment_keeping_edit_with_its_ledger_row(store):
    record = flip_feature(store, "one", "shadow", actor="tester", reason="why")
    assert record.changed and store.version() == 2
    text = store.read_text()
    assert "state: shadow   # inline comment" in text and text.startswith("# kept across flips")
    assert [(r["actor"], r["to_state"], r["reason"]) for r in read_records(store)] == [("tester", "shadow", "why")]
    assert not flip_feature(store, "one", "shadow", actor="tester").changed  # no-op: no version, no ledger row
    assert store.version() == 2 and len(read_records(store)) == 1


def test_failed_ledger_append_rolls_the_flip_back(store):
    def mutate(table, doc):
        doc["features"]["one"]["state"] = "new"
        return "x"

    def broken_ledger(value):
        raise FlipError("ledger unavailable")

    with pytest.raises(FlipError):
        edit_table(store, mutate, after_write=broken_ledger)
    assert store.version() == 1 and "state: legacy" in store.read_text()


def test_invalid_edit_and_unknown_feature_write_nothing(store):
    with pytest.raises(FlipError, match=r"unknown feature 'onee'.*did you mean 'one'"):
        flip_feature(store, "onee", "new", actor="t")
    with pytest.raises(FlipError, match="retired"):
        flip_feature(store, "one", "retired", actor="t")
    assert store.version() == 1 and read_records(store) == []


def test_concurrent_flips_lose_no_update(store):
    flip_feature(store, "one", "canary", percent=1, actor="t")
    errors: list[Exception] = []

    def worker(pct: int) -> None:
        try:
            flip_feature(store, "one", "canary", percent=pct, actor=f"w{pct}")
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(p,)) for p in range(2, 12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert store.version() == 2 + 10  # push, first flip, then every worker's own version
    records = read_records(store)
    assert len(records) == 11
    chain = [(r["from_percent"], r["to_percent"]) for r in records[1:]]
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(chain))  # each saw the one before it


def test_cli_push_pull_flip_ledger(store, tmp_path):
    runner = CliRunner()
    f = tmp_path / "t.yaml"
    f.write_text(TABLE.replace("state: legacy", "state: shadow"))
    r = runner.invoke(app, ["routes", "push", str(f), "--store", store.url])
    assert r.exit_code == 0, r.output
    assert "version 2" in r.output
    r = runner.invoke(app, ["flip", "one", "--to", "new", "--store", store.url, "--json"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["routes", "pull", "--store", store.url])
    assert r.exit_code == 0 and re.search(r"state: new\s+# inline comment", r.output)
    r = runner.invoke(app, ["ledger", "--store", store.url, "--json"])
    assert [x["to_state"] for x in __import__("json").loads(r.output)] == ["v2", "new"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(TABLE.replace("default: old", "default: nowhere"))
    r = runner.invoke(app, ["routes", "push", str(bad), "--store", store.url])
    assert r.exit_code == 1 and "nowhere" in r.output and store.version() == 3
    r = runner.invoke(app, ["routes", "--store", "mysql://x/y"])
    assert r.exit_code == 1 and "not a PostgreSQL URL" in r.output
