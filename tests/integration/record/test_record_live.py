"""Recording at the façade and replaying it, with real processes: the foreign recipe box (Flask-Login, a
session cookie, a JSON login) behind mitmdump with `record:` on, its FastAPI twin as the candidate, the
operator's CLI in its own process. Each test sends the traffic it needs (the order of tests may be shuffled)."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys

import httpx

from tests.integration.record.conftest import BODY_LIMIT, REPO, Stack, wait_for


def _rows(stack: Stack, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
    if not stack.store.exists():  # the writer creates it with its first batch
        return []
    db = sqlite3.connect(stack.store)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # created, schema not written yet
        return []
    finally:
        db.close()


def _traffic(stack: Stack) -> None:
    """Two logged-in cooks and anonymous reads through the façade; returns once all of it is stored."""
    before = len(_rows(stack, "SELECT id FROM recordings"))
    with httpx.Client(base_url=stack.facade, timeout=10) as alice, httpx.Client(base_url=stack.facade,
                                                                                 timeout=10) as bob:
        assert alice.post("/login", json={"username": "alice", "password": "pw-alice"}).status_code == 200
        assert bob.post("/login", json={"username": "bob", "password": "pw-bob"}).status_code == 200
        for client in (alice, alice, bob):
            assert client.get("/api/pantry/mine").status_code == 200
    with httpx.Client(base_url=stack.facade, timeout=10) as anonymous:
        for rid in (101, 102, 103):
            assert anonymous.get(f"/api/recipes/{rid}?token=s3cret-{rid}").status_code == 200
        assert anonymous.get("/api/recipes/104").status_code == 200
    wait_for(lambda: len(_rows(stack, "SELECT id FROM recordings")) >= before + 9, "9 more recordings stored")


def test_records_redacted_exchanges_with_stable_placeholders(stack: Stack) -> None:
    _traffic(stack)
    text = "".join(f.read_bytes().decode("latin-1") for f in stack.store.parent.glob("parity.db*"))  # WAL too
    for secret in ("pw-alice", "pw-bob", "s3cret-101", "session="):
        assert secret not in text, f"{secret} reached the store"
    pantry = _rows(stack, "SELECT request FROM recordings WHERE route = '/api/pantry/mine' ORDER BY id DESC LIMIT 3")
    cookies = [{k.lower(): v for k, v in json.loads(r["request"])["headers"]}["cookie"] for r in reversed(pantry)]
    assert cookies[0] == cookies[1] != cookies[2], cookies  # one session = one placeholder, another = another
    assert cookies[0].startswith("${STRANGLER_REPLAY_COOKIE__")
    login = _rows(stack, "SELECT * FROM recordings WHERE feature = '-' AND route = '/login'")
    assert login and all(json.loads(r["request"])["body"].count("${STRANGLER_REPLAY_PASSWORD__") == 1 for r in login)
    setcookie = [h for h in json.loads(login[0]["response"])["headers"] if h[0].lower() == "set-cookie"]
    assert setcookie and setcookie[0][1].startswith("${STRANGLER_REPLAY_SET_COOKIE__")
    cases = {r["route"]: r["n"] for r in _rows(
        stack, "SELECT route, SUM(count) AS n FROM record_cases WHERE feature = ? GROUP BY route", ("recipes",))}
    assert set(cases) == {"/api/pantry/mine", "/api/recipes/{rid}"} and min(cases.values()) >= 3, cases
    assert stack.metric("strangler_record_total", feature="recipes") >= 6


def test_over_limit_and_binary_bodies_are_kept_marked(stack: Stack) -> None:
    with httpx.Client(base_url=stack.facade, timeout=10) as client:
        client.post("/upload", content=bytes(range(256)), headers={"Content-Type": "application/octet-stream"})
        client.post("/big", json={"note": "x" * (BODY_LIMIT * 3)})
    rows = wait_for(lambda: [] if len(found := _rows(
        stack, "SELECT * FROM recordings WHERE path IN ('/upload', '/big')")) < 2 else found, "the two bodies recorded")
    request = {r["path"]: json.loads(r["request"]) for r in rows}
    assert request["/big"]["body_truncated"] and request["/big"]["body_size"] > BODY_LIMIT
    assert request["/big"]["body"] == ""  # a cut JSON body cannot be redacted ($.password): nothing of it is kept
    assert request["/upload"]["body_encoding"] == "base64" and not request["/upload"]["body_truncated"]


def test_cli_status_cases_show_and_unmatched_rule_warning(stack: Stack) -> None:
    _traffic(stack)
    status = stack.cli("record", "status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    warned = " ".join(data["warnings"])
    assert "json:$.nowhere of 'recipes'" in warned and "header:x-api-key of 'recipes'" in warned, warned
    assert "query:token" not in warned and "json:$.password" not in warned, warned  # they matched
    cases = stack.cli("record", "cases", "recipes")
    assert cases.returncode == 0 and "/api/recipes/{rid}?token" in cases.stdout, cases.stdout + cases.stderr
    listed = json.loads(stack.cli("record", "list", "recipes", "--json", "--limit", "1").stdout)
    shown = json.loads(stack.cli("record", "show", str(listed[0]["id"])).stdout)
    assert shown["feature"] == "recipes" and "s3cret" not in json.dumps(shown)
    typo = stack.cli("record", "cases", "recipe")
    assert typo.returncode == 2 and "did you mean 'recipes'" in typo.stderr, typo.stderr


def test_replay_compares_reads_and_asks_for_credentials(stack: Stack) -> None:
    _traffic(stack)
    done = stack.cli("parity", "replay", "recipes", "--json", env={"STRANGLER_REPLAY_TOKEN": "any"})
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["compared"] >= 1 and summary["differ"] == 0 and summary["errors"] == 0, summary
    assert any(env.startswith("STRANGLER_REPLAY_COOKIE__") for env in summary["needs_credentials"]), summary
    report = stack.cli("parity", "report", "recipes", "--json")
    assert json.loads(report.stdout)["features"]["recipes"]["sources"].get("replay", 0) >= 1, report.stdout
    html = stack.tmp / "report.html"
    shown = stack.cli("parity", "report", "recipes", "--html", str(html))
    assert "replayed recordings" in shown.stdout and "replayed recordings" in html.read_text(), shown.stdout


def test_replay_against_a_down_target_is_one_error(stack: Stack) -> None:
    _traffic(stack)
    table = stack.routes.read_text().replace("default: legacy", 'default: legacy\n# down: nothing listens there')
    down = stack.tmp / "routes-down.yaml"
    down.write_text(table.replace("upstreams:\n", 'upstreams:\n  gone: {url: "http://127.0.0.1:9", timeout_s: 2}\n'))
    done = stack.cli("parity", "replay", "recipes", "--against", "gone", "--routes", str(down))
    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "does not answer" in errors[0] and "Fix:" in errors[0], done.stderr
    unknown = stack.cli("parity", "replay", "recipes", "--against", "nope")
    assert unknown.returncode == 2 and "not an upstream" in unknown.stderr, unknown.stderr


def test_export_writes_a_contract_suite_that_passes_against_the_twin(stack: Stack) -> None:
    _traffic(stack)
    out = stack.tmp / "contract"
    done = stack.cli("record", "export", "recipes", "--pytest", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    suite = out / "test_recorded_recipes.py"
    assert "s3cret" not in suite.read_text()
    env = {"RECORDED_TARGET_URL": stack.candidate, "STRANGLER_REPLAY_TOKEN": "any"}
    ran = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-q", "-n",
                          "0", "-rs", str(suite)], env={**os.environ, **stack.env, **env, "PYTHONPATH": str(REPO)},
                         cwd=str(stack.tmp), capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0 and "2 passed" in ran.stdout and "needs credentials" in ran.stdout, ran.stdout


def test_load_from_recording_sends_the_recorded_mix(stack: Stack) -> None:
    _traffic(stack)
    csv = stack.tmp / "locust" / "recorded"
    done = stack.cli("load", "--host", stack.candidate, "--from-recording", "recipes", "--users", "2", "--run-time",
                     "4s", "--max-requests", "40", "--speed", "2x", "--csv", str(csv), "--html", str(csv) + ".html",
                     timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "recorded mix: 1 cases" in done.stderr and "needs credentials" in done.stderr, done.stderr
    assert "redacted value or a brace in its path" in done.stderr, done.stderr
    mix = (stack.tmp / "var" / "locust" / "recorded-recipes.yaml").read_text()
    assert "/api/recipes/104" in mix and "s3cret" not in mix
    stats = (stack.tmp / "locust" / "recorded_stats.csv").read_text()
    assert "/api/recipes/104" in stats, stats


def test_a_dead_writer_costs_the_client_nothing_and_is_restarted(stack: Stack) -> None:
    pid = int(wait_for(lambda: stack.metric("strangler_record_writer_pid"), "the writer's pid"))
    before = stack.metric("strangler_record_dropped_total", feature="recipes", reason="writer_down")
    handed = stack.metric("strangler_record_total", feature="recipes")
    os.kill(pid, signal.SIGKILL)  # the façade's child, started by this test's façade
    wait_for(lambda: stack.metric("strangler_record_writer_pid") != pid, "the writer restarted or marked down",
             deadline=10)
    with httpx.Client(base_url=stack.facade, timeout=10) as client:
        statuses = [client.get("/api/recipes/105").status_code for _ in range(20)]
    assert statuses == [200] * 20  # the client never waits for the writer
    restarted = wait_for(lambda: (p := stack.metric("strangler_record_writer_pid")) not in (0, pid) and p,
                         "a new writer", deadline=30)
    assert restarted != pid
    dropped = stack.metric("strangler_record_dropped_total", feature="recipes", reason="writer_down") - before
    handed = stack.metric("strangler_record_total", feature="recipes") - handed
    assert dropped + handed == 20, (dropped, handed)  # each request handed over or dropped, and counted
    _traffic(stack)  # and recording goes on with the new writer
