"""flip_feature rules, persistence (comments kept, only the flipped lines change) and the ledger."""
from __future__ import annotations

import difflib
import json
import sys
import types
from datetime import datetime
from pathlib import Path

import pytest

from proxy.flips import FlipError, default_actor, flip_feature
from proxy.gates import gates_from
from proxy.ledger import append_record, read_records
from proxy.table import State, load_table


def _flip(path: Path, feature: str, to, **kw):
    kw.setdefault("actor", "tester")
    return flip_feature(path, feature, to, **kw)


def _changed_lines(before: str, after: str) -> list[str]:
    return [d for d in difflib.ndiff(before.splitlines(), after.splitlines()) if d[:1] in "+-"]


def test_flip_persists_keeps_comments_and_changes_only_the_state_line(routes_file, ledger_file, table_text):
    record = _flip(routes_file, "one", State.SHADOW, reason="start shadowing", evidence={"ticket": "T-1"})
    after = routes_file.read_text()
    assert _changed_lines(table_text, after) == ["-     state: legacy", "+     state: shadow"]
    assert "# top comment: kept across flips" in after and "# the monolith" in after
    assert load_table(routes_file).features["one"].state is State.SHADOW
    assert (record.from_state, record.to_state, record.changed, record.forced) == ("legacy", "shadow", True, False)
    [line] = read_records(ledger_file)
    assert line == record.to_dict() and "changed" not in line
    assert set(line) == {"ts", "actor", "feature", "from_state", "to_state", "from_percent", "to_percent",
                         "reason", "evidence", "forced", "from_writes_owner", "to_writes_owner"}
    assert (line["from_writes_owner"], line["to_writes_owner"]) == ("legacy", "legacy")
    assert line["reason"] == "start shadowing" and line["evidence"]["ticket"] == "T-1"
    assert {"samples", "diff_rate", "error_rate", "p95_ms"} <= set(line["evidence"])  # the figures it was made on
    assert datetime.fromisoformat(line["ts"]).utcoffset().total_seconds() == 0


def test_canary_percent_is_inserted_after_state_and_later_updated(routes_file, ledger_file, table_text):
    _flip(routes_file, "one", "canary", percent=10)
    text = routes_file.read_text()
    assert "    state: canary\n    canary_percent: 10\n    routes:" in text
    _flip(routes_file, "one", "canary", percent=12.5)
    assert "canary_percent: 12.5\n" in routes_file.read_text()
    records = read_records(ledger_file)
    assert [(r["from_percent"], r["to_percent"]) for r in records] == [(None, 10.0), (10.0, 12.5)]


def test_canary_reuses_the_percent_already_set(routes_file, ledger_file):
    record = _flip(routes_file, "two", "canary")  # two has canary_percent: 25 while in shadow
    assert record.to_percent == 25.0
    assert load_table(routes_file).features["two"].canary_percent == 25


def test_canary_without_any_percent_is_refused(routes_file, ledger_file, table_text):
    with pytest.raises(FlipError, match=r"canary needs a percent.*--percent N"):
        _flip(routes_file, "one", "canary")
    assert routes_file.read_text() == table_text and not ledger_file.exists()


@pytest.mark.parametrize("percent", [0, -5, 100.5, 1000])
def test_percent_out_of_range(routes_file, percent):
    with pytest.raises(FlipError, match="out of range; use 0 < N <= 100"):
        _flip(routes_file, "one", "canary", percent=percent)


def test_percent_without_canary_is_an_error(routes_file):
    with pytest.raises(FlipError, match="only applies to state 'canary'"):
        _flip(routes_file, "one", "new", percent=10)


def test_unknown_state_lists_valid_ones(routes_file):
    with pytest.raises(FlipError, match=r"unknown state 'shadw' \(did you mean 'shadow'\?\).*legacy, shadow"):
        _flip(routes_file, "one", "shadw")


def test_unknown_feature_lists_known_ones(routes_file):
    with pytest.raises(FlipError, match=r"unknown feature 'onee' \(did you mean 'one'\?\).*one, two"):
        _flip(routes_file, "onee", "new")


def test_same_state_is_a_noop_without_ledger_line(routes_file, ledger_file, table_text):
    record = _flip(routes_file, "two", "shadow")
    assert record.changed is False and record.from_state == record.to_state == "shadow"
    assert routes_file.read_text() == table_text and read_records(ledger_file) == []


def test_same_canary_percent_is_a_noop_but_a_new_percent_is_not(routes_file, ledger_file):
    _flip(routes_file, "two", "canary", percent=25)
    assert _flip(routes_file, "two", "canary", percent=25).changed is False
    assert _flip(routes_file, "two", "canary").changed is False
    assert _flip(routes_file, "two", "canary", percent=50).changed is True
    assert len(read_records(ledger_file)) == 2


def test_retired_only_from_new_unless_forced(routes_file, ledger_file):
    with pytest.raises(FlipError, match="flip 'one' to 'new' first") as info:
        _flip(routes_file, "one", "retired")
    assert info.value.reasons and load_table(routes_file).features["one"].state is State.LEGACY
    _flip(routes_file, "one", "new")
    with pytest.raises(FlipError, match=r"legacy owns 'one''s writes\. Fix: hand them over first") as info:
        _flip(routes_file, "one", "retired")  # retired sends writes to the service: it must own them
    assert info.value.reasons == [
        "'retired' sends every write to the service, but legacy owns 'one''s writes. "
        "Fix: hand them over first: `strangler migrate handover one --writes service`"]
    assert _flip(routes_file, "one", "retired", writes_owner="service").forced is False
    with pytest.raises(FlipError, match=r"retired \(writes: service\) -> retired \(writes: legacy\) refused"):
        _flip(routes_file, "one", None, writes_owner="legacy")  # nor may writes go back while retired


def test_force_overrides_and_records_the_overridden_reasons(routes_file, ledger_file):
    record = _flip(routes_file, "one", "retired", force=True, reason="emergency")
    assert record.forced is True
    last = read_records(ledger_file)[-1]
    assert last["forced"] is True and "flip 'one' to 'new' first" in last["evidence"]["overridden"][0]
    assert load_table(routes_file).features["one"].state is State.RETIRED


def test_gates_can_refuse_and_see_the_current_table(routes_file, ledger_file):
    seen = []

    def needs_backfill(table, feature, to):
        seen.append((table.features[feature].state, feature, to))
        return ["data not backfilled"] if to is State.NEW else []

    def broken_gate(table, feature, to):
        raise RuntimeError("db down")

    assert _flip(routes_file, "one", "shadow", gates=[needs_backfill]).changed
    with pytest.raises(FlipError) as info:
        _flip(routes_file, "one", "new", gates=[needs_backfill, broken_gate])
    assert info.value.reasons == ["data not backfilled", "gate broken_gate failed: RuntimeError: db down"]
    assert seen == [(State.LEGACY, "one", State.SHADOW), (State.SHADOW, "one", State.NEW)]
    forced = _flip(routes_file, "one", "new", gates=[needs_backfill], force=True)
    assert forced.forced and read_records(ledger_file)[-1]["evidence"]["overridden"] == ["data not backfilled"]


def test_force_without_refusals_is_not_marked_forced(routes_file, ledger_file):
    assert _flip(routes_file, "one", "shadow", force=True).forced is False


def test_gates_are_only_those_the_caller_passes(routes_file, ledger_file, monkeypatch):
    """No process-wide registry: gates named in the environment apply to a flip only when its caller resolves
    them (proxy.gates.gates_from, read at that moment) and passes them in."""
    module = types.ModuleType("refusing_gate_module")
    module.refuse = lambda table, feature, to: [f"{feature}: refused by the named gate"]
    monkeypatch.setitem(sys.modules, "refusing_gate_module", module)
    monkeypatch.setenv("STRANGLER_GATES", "no=refusing_gate_module:refuse")
    assert _flip(routes_file, "one", "shadow").changed  # nothing passed: nothing refuses
    with pytest.raises(FlipError, match="refused by the named gate"):
        _flip(routes_file, "one", "legacy", gates=gates_from())
    monkeypatch.setenv("STRANGLER_GATES", "")
    assert gates_from() == [] and _flip(routes_file, "one", "legacy", gates=gates_from()).changed


def test_invalid_file_is_not_flipped(routes_file, ledger_file):
    routes_file.write_text(routes_file.read_text().replace("target: alpha", "target: nowhere"))
    with pytest.raises(FlipError, match=r"invalid; fix it first:\n.*routes.yaml:11: .*'nowhere'"):
        _flip(routes_file, "one", "shadow")
    assert not ledger_file.exists()


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FlipError, match="cannot read route table"):
        _flip(tmp_path / "none.yaml", "one", "shadow", ledger_path=tmp_path / "l.jsonl")


def test_file_mode_is_kept_and_no_temp_files_remain(routes_file, ledger_file):
    routes_file.chmod(0o640)
    _flip(routes_file, "one", "shadow")
    assert routes_file.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in routes_file.parent.iterdir() if p.name.endswith(".tmp")) == []


def test_explicit_ledger_path(routes_file, tmp_path, ledger_file):
    other = tmp_path / "elsewhere" / "flips.jsonl"
    _flip(routes_file, "one", "shadow", ledger_path=other)
    assert len(read_records(other)) == 1 and not ledger_file.exists()


def test_default_actor(monkeypatch):
    monkeypatch.setenv("STRANGLER_ACTOR", "alice")
    assert default_actor() == "alice"
    monkeypatch.delenv("STRANGLER_ACTOR")
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    assert default_actor() == "os-user"


def test_ledger_filter_limit_and_torn_lines(tmp_path):
    path = tmp_path / "l.jsonl"
    for i in range(5):
        append_record(path, {"feature": "a" if i % 2 == 0 else "b", "n": i})
    with path.open("a") as fh:
        fh.write('{"feature": "a", "n": 99')  # torn last line (crash mid-write)
    assert [r["n"] for r in read_records(path)] == [0, 1, 2, 3, 4]
    assert [r["n"] for r in read_records(path, feature="a")] == [0, 2, 4]
    assert [r["n"] for r in read_records(path, feature="a", limit=2)] == [2, 4]
    assert read_records(tmp_path / "absent.jsonl") == []
    append_record(path, {"feature": "a", "n": 5})  # the next append starts a fresh line
    assert [r["n"] for r in read_records(path, feature="a")] == [0, 2, 4, 5]
    assert all(json.loads(line) for line in path.read_text().splitlines()[:5])
