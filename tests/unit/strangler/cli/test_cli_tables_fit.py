"""Every command's table fits 80 and 120 columns: one line per row (no cell split across lines), no line
wider than the screen, long paths/fields/URLs whole or cut in the middle ("…"), never wrapped; the full
values stay in --json. Rendered by the real commands (CliRunner, COLUMNS) from real files and stores."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from rich.text import Text
from typer.testing import CliRunner

import strangler.cli.migrate
import strangler.cli.parity
import strangler.cli.routes
import strangler.cli.stack  # noqa: F401 - registers `status`
from proxy.ledger import append_record
from proxy.parity.normalise import Normaliser, Response
from proxy.parity.result import RequestInfo, compare_exchange
from proxy.parity.store import ParityStore
from strangler.cli.app import app
from strangler.cli.output import PIPE_WIDTH, Col, FitTable, lines_of, middle, screen_width
from strangler.migrate.ownership import ownership_path, record_backfill
from strangler.runstate import write_state

LONG_ROUTE = "/api/products/{product_id}/reviews/{review_id}/attachments"
LONG_FIELD = "$.items[*].pricing.currency_display_name_localised"
LONG_URL = "http://[0:0:0:0:0:0:0:1]:54321"  # a process URL as long as they get
UPSTREAM = "catalog-product-reviews-service"
FEATURE = "catalog-product-reviews"

ROUTES = f"""\
default: legacy-monolith-application
upstreams:
  legacy-monolith-application: {{url: "http://127.0.0.1:50001", health: /healthz/with/a/rather/long/path}}
  catalog-product-reviews-service: {{url: "{LONG_URL}", health: /healthz/with/a/rather/long/path}}
features:
  {FEATURE}:
    target: catalog-product-reviews-service
    state: shadow
    routes:
      - {{methods: [GET], path: "{LONG_ROUTE}"}}
      - {{methods: [GET], path: /api/products}}
  orders:
    target: catalog-product-reviews-service
    state: canary
    canary_percent: 25
    routes:
      - {{methods: [GET, POST], path: /api/orders}}
"""


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    var = tmp_path / "var"
    (var / "run").mkdir(parents=True)
    (tmp_path / "routes.yaml").write_text(ROUTES, encoding="utf-8")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(var))
    monkeypatch.setenv("STRANGLER_ROUTES_FILE", str(tmp_path / "routes.yaml"))
    monkeypatch.setenv("STRANGLER_PARITY_STORE", str(var / "parity.db"))
    monkeypatch.delenv("STRANGLER_STORE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    write_state(var / "run", {
        "supervisor_pid": None, "stack_file": str(tmp_path / "config" / "stack.yaml"), "started_at": None,
        "status": "stopped", "error": "'catalog-product-reviews-service' exited with code 3 before it answered",
        "processes": {name: {"pid": None, "host": "127.0.0.1", "port": 54321, "url": LONG_URL,
                             "health_url": None, "status": "exited", "restarts": 2, "started_at": None,
                             "message": "exited with code 3; restart 3/3 in 4.0s; see var/logs/x.log"}
                      for name in ("legacy-monolith-application", "catalog-product-reviews-service")}})
    for i in range(3):
        append_record(var / "ledger.jsonl", {
            "ts": f"2026-12-0{i + 1}T10:00:00.000Z", "actor": "operator-with-a-long-name", "feature": FEATURE,
            "from_state": "legacy", "to_state": "shadow", "from_percent": None, "to_percent": None,
            "reason": "shadow the catalog reviews after verify PASS on every table of the feature", "evidence": {},
            "forced": False})
    record_backfill(ownership_path(var), FEATURE, {"PRODUCT_REVIEW_ATTACHMENTS": 123456})
    n = Normaliser()
    with ParityStore(var / "parity.db", background=False) as store:
        for i in range(30):
            body = lambda price, t: json.dumps({"items": [{"pricing": {
                "currency_display_name_localised": price}}], "ServerTime": t})
            store.record(compare_exchange(
                n, feature=FEATURE, route=LONG_ROUTE,
                request=RequestInfo.of("GET", "/api/products/7/reviews/9/attachments", {}),
                reference=Response.of(200, {"content-type": "application/json"}, body("Euro", f"a{i}")),
                candidate=Response.of(200, {"content-type": "application/json"}, body("EUR", f"c{i}")),
                reference_again=Response.of(200, {"content-type": "application/json"}, body("Euro", f"b{i}")),
                reference_url="http://127.0.0.1:1", candidate_url="http://127.0.0.1:2"))
    return tmp_path


def _render(argv: list[str], width: int) -> list[str]:
    result = CliRunner().invoke(app, argv, env={"COLUMNS": str(width)})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.stdout.splitlines()


def _shown(value: str, lines: list[str]) -> bool:
    """`value` is on one line, whole or cut in the middle (never wrapped onto the next line)."""
    if any(value in line for line in lines):
        return True
    cuts = {token for line in lines for token in line.split() if "…" in token}
    return any(middle(value, len(cut)) == cut for cut in cuts)


COMMANDS = {
    "status": (["status"], ["legacy-monolith-application", "catalog-product-reviews-service", LONG_URL, FEATURE,
                            "PRODUCT_REVIEW_ATTACHMENTS", "123456"]),
    "routes": (["routes"], [FEATURE, UPSTREAM, LONG_URL, "/healthz/with/a/rather/long/path"]),
    "ledger": (["ledger"], [FEATURE, "legacy → shadow"]),
    "parity report": (["parity", "report", FEATURE, "--fields"], [FEATURE, LONG_ROUTE, LONG_FIELD]),
    "parity examples": (["parity", "examples", FEATURE], [LONG_FIELD, '"Euro"', '"EUR"']),
}


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_table_fits(project: Path, command: str, width: int) -> None:
    argv, values = COMMANDS[command]
    lines = _render(argv, width)
    assert lines, command
    too_wide = [line for line in lines if len(line) > width]
    assert not too_wide, "\n".join(too_wide)
    for value in values:
        assert _shown(value, lines), f"{value!r} split or missing in:\n" + "\n".join(lines)
    if command == "parity report":  # the full values stay in --json
        data = json.loads(CliRunner().invoke(app, [*argv[:3], "--json"]).stdout)
        assert data["features"][FEATURE]["fields"][0]["route"] == LONG_ROUTE
    if command == "ledger":  # short timestamps (an older day: MM-DD HH:MM); who, when there is room for it
        assert any("12-01 10:00" in line for line in lines)
        assert any("operator-with-a-long-name" in line for line in lines) is (width == 120)


def test_a_row_is_one_line_and_empty_columns_are_dropped() -> None:
    table = FitTable(Col("feature", whole=True), Col("url", squeeze=True), Col("note", squeeze=True),
                     Col("nothing"), title="t")
    for i in range(3):
        table.add_row(f"feature-{i}", LONG_URL + f"/{i}", Text("a note " * 12, style="red"), "-")
    for width in (40, 80, 120):
        lines = lines_of(table, width)
        assert len(lines) == 3 + 3  # title, header, rule, one line per row
        assert all(len(line) <= width for line in lines)
        assert "nothing" not in lines[1]
        assert [line.split()[0] for line in lines[3:]] == ["feature-0", "feature-1", "feature-2"]


def test_width_when_stdout_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    with open(os.devnull, "w") as pipe:
        assert screen_width(pipe) == PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "90")
    assert screen_width() is None  # rich reads $COLUMNS itself


LEGACY_DDL = """CREATE TABLE PRODUCTS (PROD_ID INTEGER PRIMARY KEY, PROD_SKU VARCHAR(20) UNIQUE, PROD_NM VARCHAR(120),
PROD_DESC TEXT, CAT_CD VARCHAR(10), UNIT_PRC NUMERIC(10,2), ACTV_FLG CHAR(1), CRT_DT VARCHAR(16),
UPD_DT VARCHAR(16))"""


@pytest.fixture()
def migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo's catalog migration config on SQLite files, legacy rows in, one backfill done."""
    from sqlalchemy import text

    from strangler.migrate.engine import open_engine

    legacy = f"sqlite:///{tmp_path}/legacy.db"
    engine = open_engine(legacy)
    with engine.begin() as conn:
        conn.execute(text(LEGACY_DDL))
        conn.execute(text("INSERT INTO PRODUCTS VALUES (:a,'SKU-' || :a,'Item','', 'TOYS', '1.00', 'Y', "
                          "'01/01/2024 00:00', '01/01/2024 00:00')"), [{"a": n} for n in range(1, 30)])
    engine.dispose()
    monkeypatch.setenv("LEGACY_DATABASE_URL", legacy)
    monkeypatch.setenv("CATALOG_DATABASE_URL", f"sqlite:///{tmp_path}/catalog.db")
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("STRANGLER_MIGRATIONS_FILE",
                       str(Path(__file__).resolve().parents[4] / "config" / "migrations.yaml"))
    done = CliRunner().invoke(app, ["migrate", "backfill", "catalog"])
    assert done.exit_code == 0, done.output
    return tmp_path


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("argv", [["migrate", "backfill", "catalog", "--restart"], ["migrate", "verify", "catalog"],
                                  ["migrate", "status", "catalog"]])
def test_migrate_tables_fit(migrated: Path, argv: list[str], width: int) -> None:
    lines = _render(argv, width)
    assert not [line for line in lines if len(line) > width], "\n".join(lines)
    assert _shown("catalog" if argv[1] == "status" else "PRODUCTS → products", lines), "\n".join(lines)
    rows = [line for line in lines if line.startswith(("catalog ", "PRODUCTS "))]
    assert len(rows) == 1, "\n".join(lines)  # one table row, one line
    if argv[1] == "verify":
        assert lines[-1] == "Next: strangler flip catalog --to shadow"


def test_short_time_and_middle_cut() -> None:
    from datetime import UTC, datetime

    from strangler.cli.output import short_time

    now = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)
    assert short_time("2026-12-06T20:55:09.123Z", now) == "20:55:09"  # today: the time
    assert short_time("2026-11-30T08:05:00Z", now) == "11-30 08:05"  # older: month-day and minutes
    assert short_time(None, now) == "-" and short_time("not a time", now) == "not a time"
    assert middle(LONG_ROUTE, 20) == "/api/produ…tachments" and len(middle(LONG_ROUTE, 20)) == 20
    assert middle("short", 20) == "short" and middle("abc", 1) == "…"


def test_a_pipe_gets_120_columns_not_rich_s_80(project: Path) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[4]),
                                                      env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-m", "strangler", "routes"], capture_output=True, text=True,
                          cwd=project, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    widest = max(len(line.rstrip()) for line in done.stdout.splitlines())
    assert 80 < widest <= 120, done.stdout


@pytest.mark.parametrize("width", [80, 120])
def test_the_up_table_fits(width: int) -> None:
    from strangler.status import processes_table

    state = {"processes": {name: {"url": LONG_URL, "pid": 4194301, "status": "healthy"}
                           for name in ("legacy-monolith-application", "catalog-product-reviews-service", "facade")}}
    lines = lines_of(processes_table(state, title="Stack is up"), width)
    assert all(len(line) <= width for line in lines)
    assert len([line for line in lines if "4194301" in line]) == 3  # one line per process
    assert all(_shown(value, lines) for value in ("legacy-monolith-application", "catalog-product-reviews-service"))
