"""Promotion on evidence: `strangler flip` up the ladder is refused while the feature's recent parity (a real
parity store in the var dir) is below its `promote:` limits or too thin; the refusal names the figures and the
fix; --force overrides and is ledgered; every ledger entry carries the figures."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

import strangler.cli.routes  # registers `flip` on the app
from proxy.evidence import recent_figures
from proxy.flips import Move
from proxy.parity import RequestInfo, Response, compare_exchange, normaliser_for
from proxy.parity.store import open_store
from proxy.table import ParityConfig, State, load_table
from strangler.cli.app import app
from strangler.promote import promote_gate

ROUTE = "/api/widgets/{rest:path}"


@pytest.mark.parametrize(("before", "after", "promotes"), [
    ((State.SHADOW, None), (State.CANARY, 10.0), True), ((State.CANARY, 10.0), (State.CANARY, 50.0), True),
    ((State.CANARY, 50.0), (State.NEW, None), True), ((State.LEGACY, None), (State.NEW, None), True),
    ((State.LEGACY, None), (State.CANARY, 5.0), True), ((State.CANARY, 50.0), (State.CANARY, 10.0), False),
    ((State.NEW, None), (State.CANARY, 50.0), False), ((State.LEGACY, None), (State.SHADOW, None), False),
    ((State.NEW, None), (State.RETIRED, None), False), ((State.CANARY, 10.0), (State.SHADOW, None), False),
])
def test_which_moves_are_promotions(before, after, promotes) -> None:
    assert Move("f", before[0], before[1], after[0], after[1]).promotes is promotes


@pytest.fixture
def flip(routes_file: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(strangler.cli.routes, "kit_gates", lambda: [promote_gate])  # only the gate under test
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["flip", *args, "--routes", str(routes_file)], env={"COLUMNS": "300"})


def _record(var_dir: Path | str, feature: str, equal: int, forbidden: int = 0) -> None:
    """`equal` comparisons alike, then `forbidden` where the candidate answered 403 to legacy's 200 (in the
    var dir's SQLite store, or the PostgreSQL one at a URL)."""
    store = open_store(var_dir if isinstance(var_dir, str) else var_dir / "parity.db", background=False)
    ok = Response.of(200, {"content-type": "application/json"}, '{"id": 1}')
    denied = Response.of(403, {"content-type": "application/json"}, '{"error": "forbidden"}')
    for i in range(equal + forbidden):
        store.record(compare_exchange(normaliser_for(ParityConfig()), feature=feature, route=ROUTE,
                                      request=RequestInfo.of("GET", f"/api/widgets/{i}"), reference=ok,
                                      candidate=ok if i < equal else denied, latency_ms=10.0 + i % 10))
    store.close()


def _ledger(var_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (var_dir / "ledger.jsonl").read_text().splitlines()]


def test_a_promotion_on_bad_parity_is_refused_with_its_figures_until_forced(flip, routes_file, var_dir) -> None:
    _record(var_dir, "two", equal=30, forbidden=30)
    refused = flip("two", "--to", "canary", "--percent", "25")
    print(refused.output)
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert ("promotion of 'two' to canary 25% is not backed by its recent parity (diff rate 50.0%, error rate "
            "0.0%, 60 samples, p95 19 ms): diff rate 50.0% > 1.0% (promote.max_diff_rate)") in text
    assert "Fix: fix the differences `strangler parity report two` groups by cause" in text
    assert "--force" in text and load_table(routes_file).features["two"].state is State.SHADOW
    forced = flip("two", "--to", "canary", "--percent", "25", "--force", "--reason", "accepted: known 403s")
    assert forced.exit_code == 0, forced.stdout
    assert "evidence: diff rate 50.0%, error rate 0.0%, 60 samples, p95 19 ms" in forced.stdout
    assert "forced over: promotion of 'two'" in " ".join(forced.stdout.split())
    (entry,) = _ledger(var_dir)
    assert entry["forced"] is True and entry["to_state"] == "canary"
    assert (entry["evidence"]["diff_rate"], entry["evidence"]["samples"], entry["evidence"]["p95_ms"]) == (0.5, 60, 19)
    assert "promote.max_diff_rate" in entry["evidence"]["overridden"][0]


def test_clean_parity_promotes_and_the_ledger_keeps_the_figures(flip, var_dir) -> None:
    _record(var_dir, "two", equal=60)
    done = flip("two", "--to", "canary", "--percent", "25")
    assert done.exit_code == 0, done.stdout
    (entry,) = _ledger(var_dir)
    assert entry["forced"] is False and entry["evidence"]["samples"] == 60 and entry["evidence"]["diff_rate"] == 0
    assert flip("two", "--to", "new").exit_code == 0  # the same window backs the next rung


def test_too_few_comparisons_and_skipped_rungs_are_refused(flip, var_dir) -> None:
    _record(var_dir, "two", equal=10)
    refused = " ".join(flip("two", "--to", "new").output.split())
    assert "only 10 recent comparisons of 'two' (promote.min_samples 50)" in refused
    assert "send more traffic through the façade" in refused
    skipped = " ".join(flip("one", "--to", "new").output.split())  # legacy -> new, never shadowed
    assert "only 0 recent comparisons of 'one'" in skipped and "strangler flip one --to shadow" in skipped
    assert flip("one", "--to", "shadow").exit_code == 0  # shadowing is how evidence is gathered: not judged


def test_promote_limits_are_per_feature(flip, routes_file, var_dir) -> None:
    _record(var_dir, "two", equal=8, forbidden=2)
    routes_file.write_text(routes_file.read_text().replace(
        "    canary_percent: 25\n", "    canary_percent: 25\n    promote: {min_samples: 10, max_diff_rate: 0.25}\n"))
    assert flip("two", "--to", "canary", "--percent", "25").exit_code == 0


def test_an_unreadable_parity_store_refuses_promotions_only(flip, var_dir) -> None:
    var_dir.mkdir(parents=True, exist_ok=True)
    (var_dir / "parity.db").write_bytes(b"not a database" * 100)
    refused = " ".join(flip("two", "--to", "canary", "--percent", "25").output.split())
    assert "needs 'two''s recent parity, which could not be read (DatabaseError" in refused and "Fix:" in refused
    assert flip("two", "--to", "legacy").exit_code == 0  # a move down is never held up by the evidence
    (entry,) = _ledger(var_dir)
    assert entry["evidence"]["figures_unavailable"].startswith("DatabaseError")


@pytest.mark.postgres
def test_the_figures_read_alike_from_the_postgresql_store() -> None:
    base = os.environ.get("STRANGLER_TEST_PG_URL", "").strip()
    if not base:
        pytest.skip("STRANGLER_TEST_PG_URL is not set: the PostgreSQL parity store needs a server")
    url = f"{base}{'&' if '?' in base else '?'}schema=u_{uuid.uuid4().hex[:12]}"
    _record(url, "two", equal=45, forbidden=15)
    figures = recent_figures(url, "two", ParityConfig())
    try:
        assert (figures.samples, figures.mismatches, figures.diff_rate, figures.p95_ms) == (60, 15, 0.25, 19.0)
    finally:
        store = open_store(url, background=False)
        store.drop_tables()
        store.close()
