"""`strangler routes | routes check | flip | ledger` through Typer's CliRunner, on real files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import strangler.cli.routes as routes_cli
from proxy.table import State, load_table
from strangler.cli.app import app
from strangler.settings import get_settings


@pytest.fixture
def run(routes_file: Path, monkeypatch: pytest.MonkeyPatch):
    """The CLI without the kit's gates (these tests are about the table; gates: test_flip_uses_the_kit_gates
    and test_promote_gate.py)."""
    monkeypatch.setattr(routes_cli, "kit_gates", list)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), env={"COLUMNS": "200"})

    return invoke


def test_routes_json_lists_features_and_upstreams(run, routes_file):
    result = run("routes", "--routes", str(routes_file), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["default"] == "old" and data["upstreams"]["alpha"]["url"] == "http://127.0.0.1:8101"
    assert data["features"]["one"] | {"route_list": None} == {
        "state": "legacy", "canary_percent": None, "target": "alpha", "target_url": "http://127.0.0.1:8101",
        "routes": 2, "route_list": None}
    assert data["features"]["two"]["routes"] == 1


def test_routes_table_for_people(run, routes_file):
    result = run("routes", "--routes", str(routes_file))
    assert result.exit_code == 0, result.output
    for text in ("one", "two", "shadow", "http://127.0.0.1:8102", "old (default)"):
        assert text in result.stdout


def test_routes_file_from_environment(run, routes_file, monkeypatch):
    monkeypatch.setenv("STRANGLER_ROUTES_FILE", str(routes_file))
    result = run("routes", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file"] == str(routes_file)


def test_routes_check_ok_and_errors_with_file_and_line(run, routes_file, tmp_path):
    ok = run("routes", "check", str(routes_file))
    assert ok.exit_code == 0 and "OK — 2 features, 3 routes" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(routes_file.read_text().replace("state: shadow", "state: shadw")
                   .replace("[GET, PUT]", "[GET, PUTT]"))
    result = run("routes", "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:15: unknown HTTP method 'PUTT'" in result.output
    assert f"{bad}:18: features.two.state: unknown state 'shadw'" in result.output
    assert "Traceback" not in result.output
    as_json = run("routes", "check", str(bad), "--json")
    assert as_json.exit_code == 1
    assert [e["line"] for e in json.loads(as_json.stdout)["errors"]] == [15, 18]


def test_routes_check_uses_the_group_routes_option(run, routes_file):
    result = run("routes", "--routes", str(routes_file), "check")
    assert result.exit_code == 0 and str(routes_file) in result.stdout


def test_routes_missing_file(run, tmp_path):
    result = run("routes", "--routes", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1 and "cannot read the route table" in result.output


def test_flip_prints_from_to_and_writes_ledger(run, routes_file, ledger_file):
    result = run("flip", "one", "--to", "canary", "--percent", "5", "--reason", "first cohort",
                 "--routes", str(routes_file))
    assert result.exit_code == 0, result.output
    assert "one: legacy → canary 5%" in result.stdout
    assert load_table(routes_file).features["one"].canary_percent == 5
    listed = run("ledger", "--json")
    [entry] = json.loads(listed.stdout)
    assert entry["actor"] == "tester" and entry["reason"] == "first cohort" and entry["to_percent"] == 5.0


def test_flip_noop_says_so(run, routes_file, ledger_file):
    result = run("flip", "two", "--to", "shadow", "--routes", str(routes_file))
    assert result.exit_code == 0 and "already shadow; nothing to do" in result.stdout
    assert not ledger_file.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["one", "--to", "retired"], "flip 'one' to 'new' first"),
    (["one", "--to", "canary"], "canary needs a percent"),
    (["one", "--to", "new", "--percent", "5"], "only applies to state 'canary'"),
    (["one", "--to", "sideways"], "unknown state 'sideways'"),
    (["zzz", "--to", "new"], "unknown feature 'zzz'"),
])
def test_flip_refusals_exit_1_with_reason(run, routes_file, args, message, table_text):
    result = run("flip", *args, "--routes", str(routes_file))
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert routes_file.read_text() == table_text


def test_flip_force_json(run, routes_file, ledger_file):
    result = run("flip", "one", "--to", "retired", "--force", "--json", "--routes", str(routes_file))
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["forced"] is True and data["changed"] is True and data["evidence"]["overridden"]
    refused = run("flip", "two", "--to", "retired", "--json", "--routes", str(routes_file))
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["reasons"] == [
        "'retired' removes the legacy fallback; flip 'two' to 'new' first (it is 'shadow')",
        "'retired' sends every write to the service, but legacy owns 'two''s writes. "
        "Fix: hand them over first: `strangler migrate handover two --writes service`"]


def test_flip_uses_the_kit_gates(run, routes_file, monkeypatch):
    monkeypatch.setattr(routes_cli, "kit_gates", lambda: [
        lambda table, feature, to: ["writes still owned by legacy"] if to is State.NEW else []])
    result = run("flip", "one", "--to", "new", "--routes", str(routes_file))
    assert result.exit_code == 1 and "writes still owned by legacy" in result.output


def test_ledger_filter_and_last_n(run, routes_file):
    for state in ("shadow", "legacy", "shadow"):
        assert run("flip", "one", "--to", state, "--routes", str(routes_file)).exit_code == 0
    assert run("flip", "two", "--to", "legacy", "--routes", str(routes_file)).exit_code == 0
    only_one = json.loads(run("ledger", "one", "--json").stdout)
    assert [r["to_state"] for r in only_one] == ["shadow", "legacy", "shadow"]
    last_two = json.loads(run("ledger", "-n", "2", "--json").stdout)
    assert [(r["feature"], r["to_state"]) for r in last_two] == [("one", "shadow"), ("two", "legacy")]
    people = run("ledger", "one")
    assert people.exit_code == 0 and "legacy → shadow" in people.stdout and "tester" in people.stdout


def test_ledger_empty(run):
    result = run("ledger")
    assert result.exit_code == 0 and "No flips recorded" in result.stdout


def test_status_section(routes_file, monkeypatch):
    monkeypatch.setenv("STRANGLER_ROUTES_FILE", str(routes_file))
    settings = get_settings()
    _, data = routes_cli.routes_status_section(settings)
    assert data["ok"] and data["features"]["one"]["last_flip"] is None
    routes_cli.flip_feature(routes_file, "one", "shadow", actor="x")
    _, data = routes_cli.routes_status_section(settings)
    assert data["features"]["one"]["state"] == "shadow" and data["features"]["one"]["last_flip"]["actor"] == "x"
    routes_file.write_text("upstreams: {}\n")
    _, data = routes_cli.routes_status_section(settings)
    assert data["ok"] is False and data["errors"][0]["line"] == 1


def test_status_section_is_declared():
    from strangler import status

    assert "routes" in status.sections()
