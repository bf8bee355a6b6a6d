"""Reports (JSON/HTML), examples, export (run the generated test) and suggest-ignores --write via the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

import strangler.cli.parity  # noqa: F401 - registers `parity` on the app
from proxy.ledger import read_records
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.result import RequestInfo, compare_exchange
from proxy.parity.store import ParityStore
from proxy.table import load_table
from strangler.cli.app import app

REPO = Path(__file__).resolve().parents[3]
runner = CliRunner()


def _server(price: str) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"Id": 7, "Price": price, "ServerTime": str(threading.get_ident())}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture()
def servers() -> Iterator[tuple[str, str]]:
    legacy, legacy_url = _server("1.00")
    service, service_url = _server("1.50")
    yield legacy_url, service_url
    for s in (legacy, service):
        s.shutdown()
        s.server_close()


def _fill(store_path: Path, legacy_url: str, service_url: str) -> None:
    n = Normaliser()
    with ParityStore(store_path, background=False) as store:
        for i in range(40):
            ref = Response.of(200, {"content-type": "application/json"},
                              json.dumps({"Id": 7, "Price": "1.00", "ServerTime": f"a{i}"}))
            again = Response.of(200, {"content-type": "application/json"},
                                json.dumps({"Id": 7, "Price": "1.00", "ServerTime": f"b{i}"}))
            cand = Response.of(200, {"content-type": "application/json"},
                               json.dumps({"Id": 7, "Price": "1.50", "ServerTime": f"c{i}"}))
            store.record(compare_exchange(n, feature="catalog", route="/api/items/{id}",
                                          request=RequestInfo.of("GET", "/api/items/7", {"Accept": "*/*",
                                                                 "Authorization": "tok-s3cr3t"}),
                                          reference=ref, candidate=cand, reference_again=again,
                                          reference_url=legacy_url, candidate_url=service_url))


def test_report_json_and_self_contained_html(tmp_path: Path) -> None:
    store = tmp_path / "p.db"
    _fill(store, "http://127.0.0.1:1", "http://127.0.0.1:2")
    done = runner.invoke(app, ["parity", "report", "catalog", "--json", "--store", str(store)])
    assert done.exit_code == 0, done.output
    feature = json.loads(done.output)["features"]["catalog"]
    assert feature["verdict"] == "mismatch" and feature["compared"] == 40
    assert {f["field"]: f["verdict"] for f in feature["fields"]} == {"$.Price": "real", "$.ServerTime": "noise"}
    html_file = tmp_path / "r.html"
    done = runner.invoke(app, ["parity", "report", "--html", str(html_file), "--store", str(store)])
    assert done.exit_code == 0 and "mismatch" in done.output and "real" in done.output
    page = html_file.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page and "$.Price" in page
    assert "http://" not in page.split("</style>")[0] and "<script" not in page and "<link" not in page


def test_report_without_a_store_is_a_clear_error(tmp_path: Path) -> None:
    done = runner.invoke(app, ["parity", "report", "--store", str(tmp_path / "none.db")])
    assert done.exit_code == 1 and "no parity store" in done.output


def test_export_writes_curl_and_a_pytest_file_that_fails_on_the_mismatch(tmp_path: Path,
                                                                           servers: tuple[str, str]) -> None:
    legacy_url, service_url = servers
    store = tmp_path / "p.db"
    _fill(store, legacy_url, service_url)
    listed = json.loads(runner.invoke(app, ["parity", "examples", "catalog", "--json", "--store",
                                            str(store)]).output)
    (price,) = [e for e in listed if e["field"] == "$.Price"][:1]
    out = tmp_path / "export"
    done = runner.invoke(app, ["parity", "export", str(price["id"]), "--out", str(out), "--store", str(store)])
    assert done.exit_code == 0, done.output
    curl = (out / f"mismatch_{price['id']}.sh").read_text()
    assert "PARITY_REFERENCE_URL" in curl and "/api/items/7" in curl and "tok-s3cr3t" not in curl
    assert '"Authorization: ${STRANGLER_REPLAY_AUTHORIZATION}"' in curl and "Redacted headers: Authorization" in curl
    test_file = out / f"test_parity_mismatch_{price['id']}.py"
    assert "tok-s3cr3t" not in test_file.read_text() and "Redacted headers: Authorization" in test_file.read_text()
    pytest_cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(test_file),
                  "--rootdir", str(out)]
    # only pytest and httpx: no plugin autoload (Locust's alone costs seconds of CPU on a busy machine)
    env = {k: v for k, v in __import__("os").environ.items() if k != "STRANGLER_REPLAY_AUTHORIZATION"} | {
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    unset = subprocess.run(pytest_cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert unset.returncode == 0 and "1 skipped" in unset.stdout, unset.stdout
    assert "Authorization not set; the mismatch may depend on them" in unset.stdout, unset.stdout
    env["STRANGLER_REPLAY_AUTHORIZATION"] = "tok-s3cr3t"
    replay = subprocess.run(pytest_cmd, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert replay.returncode == 1 and "candidate still differs on $.Price" in replay.stdout, replay.stdout
    same = subprocess.run(pytest_cmd, cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**env, "PARITY_CANDIDATE_URL": legacy_url})
    assert same.returncode == 0, same.stdout  # ServerTime noise does not fail it; only the exported field does


def test_export_unknown_id(tmp_path: Path) -> None:
    store = tmp_path / "p.db"
    _fill(store, "http://127.0.0.1:1", "http://127.0.0.1:2")
    done = runner.invoke(app, ["parity", "export", "999", "--store", str(store)])
    assert done.exit_code == 1 and "no mismatch with id 999" in done.output


def test_suggest_ignores_write_keeps_comments_validates_and_ledgers(tmp_path: Path) -> None:
    store = tmp_path / "p.db"
    _fill(store, "http://127.0.0.1:1", "http://127.0.0.1:2")
    routes = tmp_path / "routes.yaml"
    routes.write_text((REPO / "config/routes.yaml").read_text())
    done = runner.invoke(app, ["parity", "suggest-ignores", "catalog", "--store", str(store), "--routes",
                               str(routes)])
    assert done.exit_code == 0 and '- "$.ServerTime"' in done.output
    assert load_table(routes).features["catalog"].parity.ignore == []  # printing alone changes nothing
    done = runner.invoke(app, ["parity", "suggest-ignores", "catalog", "--write", "--store", str(store),
                               "--routes", str(routes)])
    assert done.exit_code == 0, done.output
    text = routes.read_text()
    assert "# Parity rules: add the fields that legitimately differ" in text
    assert "# Route table of the demo façade" in text
    assert load_table(routes).features["catalog"].parity.ignore == ["$.ServerTime"]
    (record,) = read_records(_ledger())
    assert record["evidence"] == {"action": "parity.ignore.add", "added": ["$.ServerTime"]}
    again = runner.invoke(app, ["parity", "suggest-ignores", "catalog", "--write", "--json", "--store", str(store),
                                "--routes", str(routes)])
    assert json.loads(again.output)["added"] == []
    assert len(read_records(_ledger())) == 1


def _ledger() -> Path:
    from proxy.ledger import default_ledger_path

    return default_ledger_path()


def test_suggest_ignores_unknown_feature(tmp_path: Path) -> None:
    store = tmp_path / "p.db"
    _fill(store, "http://127.0.0.1:1", "http://127.0.0.1:2")
    routes = tmp_path / "routes.yaml"
    routes.write_text((REPO / "config/routes.yaml").read_text())
    done = runner.invoke(app, ["parity", "suggest-ignores", "catalogue", "--write", "--store", str(store),
                               "--routes", str(routes)])
    assert done.exit_code == 1 and "did you mean 'catalog'" in done.output
