"""Verdicts that follow the rules (proxy/parity/recent.py): a recent window per route, re-evaluated under the
ignore rules in force, history kept; suggest-ignores' messages and normaliser proposals."""
from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

import strangler.cli.parity  # noqa: F401  (registers `strangler parity`)
from proxy.parity import Normaliser, ParityStore, RequestInfo, Response, compare_exchange
from proxy.parity.recent import evaluate
from proxy.table import ParityConfig
from strangler.cli.app import app

JSON = {"content-type": "application/json"}


def record(store: ParityStore, config: ParityConfig, n: int, *, price: str = "1.00", noise: bool = True,
           start: int = 0, route: str = "/items/{id}", headers: dict | None = None) -> None:
    """n comparisons; ServerTime differs on every answer (legacy-vs-legacy too when `noise`)."""
    norm = Normaliser(config)
    for i in range(start, start + n):
        body = lambda t, p, i=i: json.dumps({"Id": i, "ServerTime": t, "Price": p})
        store.record(compare_exchange(
            norm, feature="f", route=route, request=RequestInfo.of("GET", f"/items/{i}", headers or {}),
            reference=Response.of(200, JSON, body(f"a{i}", "1.00")),
            candidate=Response.of(200, JSON, body(f"b{i}", price)),
            reference_again=Response.of(200, JSON, body(f"c{i}", "1.00")) if noise else None))
    store.flush()


def verdicts(store: ParityStore, config: ParityConfig) -> dict[str, str]:
    return {f["field"]: f["verdict"] for f in evaluate("f", store.recent("f", config.window), config).fields}


def test_removing_and_re_adding_an_ignore_rule_never_flips_a_timestamp_to_real(tmp_path: Path):
    bare, ignoring = ParityConfig(), ParityConfig(ignore=["$.ServerTime"])
    with ParityStore(tmp_path / "p.db", background=False) as store:
        record(store, bare, 20)
        assert verdicts(store, bare) == {"$.ServerTime": "noise"}
        record(store, ignoring, 20, start=20)           # the rule was added: recorded while it applied
        assert verdicts(store, ignoring) == {}           # the report follows at once
        assert verdicts(store, bare) == {"$.ServerTime": "noise"}  # removed: still noise, never "real"
        assert verdicts(store, ignoring) == {}           # re-added
        groups = evaluate("f", store.recent("f", 500), bare).groups
        assert [(g.cause.value, g.count) for g in groups] == [("noise", 40)]


def test_adding_an_ignore_rule_changes_the_report_without_a_reset(tmp_path: Path):
    bare = ParityConfig()
    with ParityStore(tmp_path / "p.db", background=False) as store:
        record(store, bare, 10, price="1.50")
        before = evaluate("f", store.recent("f", 500), bare)
        after = evaluate("f", store.recent("f", 500), ParityConfig(ignore=["$.Price", "$.ServerTime"]))
        assert before.mismatches == 10 and before.groups[0].headline() == \
            "body differs on 10 requests, none carrying credentials"
        assert after.mismatches == 0 and [g.cause.value for g in after.groups] == ["equal"]
        assert store.route_stats("f")[0].compared == 10  # history kept


def test_the_window_is_the_last_n_comparisons_of_each_route(tmp_path: Path):
    with ParityStore(tmp_path / "p.db", background=False) as store:
        record(store, ParityConfig(), 10, price="1.50", noise=False)
        record(store, ParityConfig(), 5, noise=False, start=10)
        record(store, ParityConfig(), 3, price="1.50", noise=False, route="/other")
        recent = evaluate("f", store.recent("f", 5), ParityConfig(window=5, ignore=["$.ServerTime"]))
        assert (recent.compared, recent.mismatches) == (8, 3)  # 5 equal on /items/{id}, 3 differing on /other
        full = evaluate("f", store.recent("f", 500), ParityConfig(ignore=["$.ServerTime"]))
        assert (full.compared, full.mismatches) == (18, 13)


def test_a_group_counts_the_credentials_its_requests_carried(tmp_path: Path):
    config = ParityConfig(secret_headers=["X-Api-Key"], ignore=["$.ServerTime"])
    with ParityStore(tmp_path / "p.db", background=False) as store:
        record(store, config, 3, price="2", headers={"Authorization": "Bearer t", "X-Api-Key": "k"})
        record(store, config, 1, price="2", start=3, headers={"Authorization": "Bearer t"})
        (group,) = evaluate("f", store.recent("f", 500), config).groups
        assert group.headline() == "body differs on 4 requests, all carrying Authorization, 3 carrying X-Api-Key"
        example = store.examples("f")[0]
        assert "Bearer t" not in json.dumps(example.request) and example.request["header_names"] == \
            ["authorization", "x-api-key"]


runner = CliRunner()


def suggest(store: Path, tmp_path: Path, *extra: str):
    routes = tmp_path / "routes.yaml"
    routes.write_text("upstreams:\n  legacy: {url: 'http://127.0.0.1:5000'}\n  svc: {url: 'http://127.0.0.1:5001'}\n"
                      "default: legacy\nfeatures:\n  f:\n    target: svc\n    routes: [{methods: [GET], path: /a}]\n"
                      "    parity: {ignore: [$.ServerTime]}\n")
    return runner.invoke(app, ["parity", "suggest-ignores", "f", "--store", str(store), "--routes", str(routes),
                               *extra], terminal_width=200)


def test_suggest_ignores_says_why_there_is_nothing_and_proposes_normalisers(tmp_path: Path):
    db = tmp_path / "p.db"
    with ParityStore(db, background=False) as store:
        record(store, ParityConfig(ignore=["$.ServerTime"]), 5, noise=False)
    done = suggest(db, tmp_path)
    assert done.exit_code == 0 and "No noise samples yet for 'f'" in done.output, done.output
    with ParityStore(db, background=False) as store:
        record(store, ParityConfig(ignore=["$.ServerTime"]), 5, start=5)
        norm = Normaliser(ParityConfig())
        for _i in range(3):  # the same instant written two ways, a number vs a numeric string
            store.record(compare_exchange(
                norm, feature="f", route="/t", request=RequestInfo.of("GET", "/t"),
                reference=Response.of(200, JSON, json.dumps({"At": "2026-01-01T00:00:00+00:00", "N": 1})),
                candidate=Response.of(200, JSON, json.dumps({"At": "2026-01-01T00:00:00Z", "N": "1"}))))
    done = suggest(db, tmp_path)
    assert "No field varied between two legacy answers for 'f' (5 noise samples" in done.output, done.output
    assert '"$.At": instant' in done.output and '"$.N": number' in done.output
    data = json.loads(suggest(db, tmp_path, "--json").output)
    assert data["normalise"] == {"$.At": "instant", "$.N": "number"} and data["suggested"] == []


def test_a_store_from_before_causes_gains_the_detail_column(tmp_path: Path):
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:
        old.execute("CREATE TABLE samples (id INTEGER PRIMARY KEY AUTOINCREMENT, feature TEXT, route TEXT, ts REAL, "
                    "error INTEGER, latency_ms REAL, fields TEXT)")
        old.execute("INSERT INTO samples (feature, route, ts, error, latency_ms, fields) VALUES "
                    "('f', '/items/{id}', 1.0, 0, 5.0, '[\"$.Price\"]')")
    with ParityStore(db, background=False) as store:
        record(store, ParityConfig(), 2, price="2")
        old_row, *new = store.recent("f", 10)
        assert old_row.detail == {} and [s.detail["cause"] for s in new] == ["body", "body"]
        assert evaluate("f", [old_row, *new], ParityConfig()).compared == 2  # no facts: not re-evaluated
        assert [g.cause.value for g in evaluate("f", [old_row, *new], ParityConfig()).groups] == ["body"]


def test_json_and_html_reports_group_by_cause_under_the_rules_given(tmp_path: Path):
    from proxy.parity.report import build_report, render_html

    with ParityStore(tmp_path / "p.db", background=False) as store:
        record(store, ParityConfig(), 4, price="<b>2</b>", headers={"Cookie": "s=1"})
        report = build_report(store, "f", rules={"f": ParityConfig(ignore=["$.ServerTime"])})
    feat = report["features"]["f"]
    (group,) = feat["groups"]
    assert group["headline"] == "body differs on 4 requests, all carrying Cookie"
    assert group["fields"] == {"$.Price": 4} and [f["field"] for f in feat["fields"]] == ["$.Price"]
    page = render_html(report)
    assert "body differs on 4 requests, all carrying Cookie" in page and "<b>2</b>" not in page
