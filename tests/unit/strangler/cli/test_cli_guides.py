"""The CLI says what went wrong with the fix, and what to do next: parity report for an unknown feature
(did-you-mean, exit 2) or one with no data (its state, exit 1), an equal shadow report's canary flip, a
flip's rollback command, a busy port's really free suggestion."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

import strangler.cli.parity
import strangler.cli.routes  # noqa: F401 - registers `flip`
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.result import RequestInfo, compare_exchange
from proxy.parity.store import ParityStore
from strangler.cli.app import app
from strangler.stack import ResolvedProcess, StackPlan
from strangler.supervisor import StackError, preflight

ROUTES = """\
default: legacy
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  catalog: {url: "http://127.0.0.1:5001"}
features:
  catalog:
    target: catalog
    state: shadow
    routes: [{methods: [GET], path: /api/products}]
  orders:
    target: catalog
    state: legacy
    routes: [{methods: [GET], path: /api/orders}]
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "var").mkdir()
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STRANGLER_ROUTES_FILE", str(tmp_path / "routes.yaml"))
    monkeypatch.setenv("STRANGLER_PARITY_STORE", str(tmp_path / "var" / "parity.db"))
    monkeypatch.setenv("STRANGLER_ACTOR", "tester")
    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    n = Normaliser()
    with ParityStore(tmp_path / "var" / "parity.db", background=False) as store:
        for i in range(5):  # catalog answers exactly as legacy does
            same = Response.of(200, {"content-type": "application/json"}, json.dumps({"Id": i}))
            store.record(compare_exchange(n, feature="catalog", route="/api/products",
                                          request=RequestInfo.of("GET", "/api/products", {}), reference=same,
                                          candidate=same, reference_again=same,
                                          reference_url="http://127.0.0.1:5000",
                                          candidate_url="http://127.0.0.1:5001"))
    return tmp_path


def _run(*argv: str):
    return CliRunner().invoke(app, list(argv), env={"COLUMNS": "120"})


def test_report_for_an_unknown_feature_suggests_the_name_and_exits_2(project: Path) -> None:
    done = _run("parity", "report", "catalgo")
    assert done.exit_code == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: no feature 'catalgo'") and "(did you mean 'catalog'?)" in done.stderr
    assert "Fix: use one of: catalog, orders" in done.stderr and done.stderr.count("\n") == 1


def test_report_for_a_feature_without_data_says_its_state_and_what_records_data(project: Path) -> None:
    done = _run("parity", "report", "orders")
    assert done.exit_code == 1 and done.stdout == ""
    assert "no comparisons recorded for 'orders' (state legacy)" in done.stderr
    assert "Fix: `strangler flip orders --to shadow`" in done.stderr and "strangler parity run" in done.stderr


def test_an_equal_shadow_report_ends_with_the_canary_flip(project: Path) -> None:
    done = _run("parity", "report", "catalog")
    assert done.exit_code == 0, done.output
    assert done.stdout.rstrip().splitlines()[-1] == "Next: strangler flip catalog --to canary --percent 10"
    as_json = _run("parity", "report", "catalog", "--json")
    assert "Next:" not in as_json.stdout and json.loads(as_json.stdout)["features"]["catalog"]["verdict"] == "equal"


def test_a_flip_ends_with_its_rollback_command(project: Path) -> None:
    done = _run("flip", "orders", "--to", "shadow", "--reason", "try it")
    assert done.exit_code == 0, done.output
    assert done.stdout.rstrip().splitlines()[-1] == (
        "Next: strangler parity report orders (undo: strangler flip orders --to legacy)")
    again = _run("flip", "orders", "--to", "shadow")
    assert again.exit_code == 0 and "Next:" not in again.stdout  # nothing changed, nothing to roll back


def _process(name: str, port: int, tmp: Path) -> ResolvedProcess:
    return ResolvedProcess(name=name, argv=["true"], host="127.0.0.1", port=port, health=None, ready_timeout=1,
                           env={}, setup=[], setup_timeout=1, cwd=tmp, restart="no", max_restarts=0,
                           restart_backoff=1, log_path=tmp / f"{name}.log")


def test_a_busy_port_suggests_a_free_port_no_other_process_of_the_stack_uses(tmp_path: Path) -> None:
    with socket.socket() as squatter, socket.socket() as neighbour:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        # the port just above is the stack's own (process 'b'), the next one is taken by someone else
        if busy + 2 > 65535:
            pytest.skip("the OS handed out a port at the very top of the range")
        try:
            neighbour.bind(("127.0.0.1", busy + 2))
        except OSError:
            pytest.skip("the port two above is not ours to take on this machine")
        neighbour.listen()
        plan = StackPlan(stack_file=tmp_path / "stack.yaml", root=tmp_path, var_dir=tmp_path,
                         processes=[_process("a", busy, tmp_path), _process("b", busy + 1, tmp_path)])
        with pytest.raises(StackError) as refused:
            preflight(plan)
    message = str(refused.value)
    suggested = int(message.split("--port a=")[1].split()[0])
    assert suggested not in (busy, busy + 1, busy + 2)
    assert f"STRANGLER_PORT_A={suggested}" in message
