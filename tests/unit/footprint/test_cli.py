"""`strangler analyze` end to end on files: formats, saved analysis, feature view, translate, errors."""
import json

import pytest
from typer.testing import CliRunner

import strangler.cli.analyze  # noqa: F401 - registers `analyze` on the root app
from strangler.cli.app import app

SCRIPT = """\
-- module: orders
SELECT UNIT_PRC, ACTV_FLG FROM PRODUCTS WHERE PROD_ID = 5;
UPDATE STOCK SET QTY_RSRVD = QTY_RSRVD + 1 WHERE PROD_ID = 5 AND WH_CD = 'A';
INSERT INTO ORDERS (CUST_ID, ORD_STS) VALUES (3, 'N');
-- module: catalog
UPDATE PRODUCTS SET PROD_NM = 'n' WHERE PROD_ID = 5;
-- module: inventory
UPDATE STOCK SET QTY_ON_HND = QTY_ON_HND + 4 WHERE PROD_ID = 5;
SELEC broken;
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)  # no config/footprint.yaml here: ownership is inferred
    (tmp_path / "q.sql").write_text(SCRIPT)
    yield tmp_path


def run(*args):
    return CliRunner().invoke(app, ["analyze", *args])


def test_json_report_and_saved_analysis(env):
    result = run("q.sql", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {(e["module"], e["table"], e["access"]) for e in report["coupling"]} == {
        ("orders", "PRODUCTS", "read"), ("orders", "STOCK", "read/write")}
    assert report["stats"]["unparseable"] == 1
    saved = json.loads((env / "var" / "footprint" / "analysis.json").read_text())
    assert saved["coupling"] == report["coupling"]


def test_table_markdown_mermaid_dot_and_feature(env):
    table = run("q.sql", "--feature", "orders")
    assert table.exit_code == 0 and "Cross-module coupling" in table.stdout and "Feature orders" in table.stdout
    md = run("q.sql", "--format", "markdown", "--out", "r.md", "--feature", "catalog")
    assert md.exit_code == 0 and "## Feature `catalog`" in (env / "r.md").read_text()
    mermaid = run("q.sql", "--format", "mermaid").stdout
    assert mermaid.startswith("graph LR") and "read/write STOCK (2)" in mermaid
    dot = run("q.sql", "--format", "dot").stdout
    assert dot.startswith("digraph footprint") and '"orders" -> "inventory"' in dot


def test_svg_needs_no_graphviz_and_is_saved_for_the_dashboard(env, monkeypatch):
    monkeypatch.setenv("PATH", "")  # no `dot` binary reachable
    result = run("q.sql", "--format", "svg")
    assert result.exit_code == 0 and result.stdout.startswith("<svg") and ">orders</text>" in result.stdout
    assert (env / "var" / "footprint" / "footprint.svg").read_text() == result.stdout


def test_bad_input_is_a_clear_error(env):
    missing = run("nope.jsonl")
    assert missing.exit_code == 2 and "no such file" in missing.output
    assert "unknown feature" in run("q.sql", "--feature", "zzz").output
    assert "unknown --format" in run("q.sql", "--format", "pdf").output
    assert "file not found" in run("q.sql", "--config", "none.yaml").output


def test_translate_reports_untranslatable(env):
    (env / "legacy.sql").write_text("SELECT IFNULL(a, 0) FROM t LIMIT 5;\nINSERT OR REPLACE INTO t (a) VALUES (1);\n"
                                    "PRAGMA foreign_keys=ON;\nSELECT GROUP_CONCAT(a, ',') FROM t")
    result = run("translate", "legacy.sql", "--from", "sqlite", "--to", "postgres")
    assert result.exit_code == 1
    assert "SELECT COALESCE(a, 0) FROM t LIMIT 5;" in result.stdout
    assert "STRING_AGG(a, ',')" in result.stdout
    assert "INSERT OR REPLACE has no postgres equivalent" in result.output
    assert "PRAGMA is sqlite-specific" in result.output
    assert "2 of 4 statements translated" in result.output
    ok = run("translate", "--sql", "SELECT a FROM t WHERE b = 1")
    assert ok.exit_code == 0 and "SELECT a FROM t WHERE b = 1;" in ok.stdout


def test_translate_metadata(env, monkeypatch):
    (env / "fp_models.py").write_text(
        "from sqlalchemy import Column, Integer, MetaData, Numeric, String, Table, Index\n"
        "metadata = MetaData()\n"
        "items = Table('ITEMS', metadata, Column('ITEM_ID', Integer, primary_key=True),\n"
        "              Column('ITEM_NM', String(40), nullable=False), Column('PRC', Numeric(10, 2)))\n"
        "Index('IX_ITEMS_NM', items.c.ITEM_NM)\n")
    monkeypatch.syspath_prepend(str(env))
    result = run("translate", "--metadata", "fp_models:metadata", "--to", "postgres", "--json")
    assert result.exit_code == 0, result.output
    outputs = [s["output"] for s in json.loads(result.stdout)["statements"]]
    assert any(o.startswith('CREATE TABLE "ITEMS"') and "DECIMAL(10, 2)" in o for o in outputs)
    assert any(o.startswith('CREATE INDEX "IX_ITEMS_NM"') for o in outputs)
    assert "expected module:attr" in run("translate", "--metadata", "nocolon").output
