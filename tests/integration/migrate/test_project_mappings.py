"""Your tables' data from your own project folder: mapping modules resolve from the project (no PYTHONPATH),
bad paths are one line with the fix and never leave a database behind, and `verify` says what it proves."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
STRANGLER = Path(sys.executable).with_name("strangler")

MAPPING = '''
from sqlalchemy import Column, Integer, MetaData, String, Table

from strangler.migrate import TableMapping
from mappings.common import clean  # a sibling module of the project: resolved the same way

PLANTS_TABLE = Table("plants", MetaData(), Column("id", Integer, primary_key=True), Column("name", String(80)),
                     Column("height_cm", Integer))


def translate(row):
    return {"id": row["ID"], "name": clean(row["NAME"]), "height_cm": row["HEIGHT_MM"] // 10}


def translate_colour(row):
    return {**translate(row), "name": row["COLOUR"]}  # PLANTS has no COLOUR column


PLANTS = TableMapping(source_table="PLANTS", source_key="ID", target=PLANTS_TABLE, translate=translate)
COLOURED = TableMapping(source_table="PLANTS", source_key="ID", target=PLANTS_TABLE, translate=translate_colour)
'''
MIGRATIONS = '''
plants:
  mapping: mappings.plants:PLANTS
  source_env: LEGACY_DATABASE_URL
  source_default: "sqlite:///{var_dir}/legacy.db"
  target_env: PLANTS_DATABASE_URL
  target_default: "sqlite:///{var_dir}/plants.db"
coloured:
  mapping: mappings.plants:COLOURED
  source_env: LEGACY_DATABASE_URL
  source_default: "sqlite:///{var_dir}/legacy.db"
  target_env: COLOURED_DATABASE_URL
  target_default: "sqlite:///{var_dir}/coloured.db"
broken:
  mapping: mappings.broken:X
  source_env: LEGACY_DATABASE_URL
  source_default: "sqlite:///{var_dir}/legacy.db"
  target_env: BROKEN_DATABASE_URL
  target_default: "sqlite:///{var_dir}/broken.db"
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "greenhouse-migration"
    (root / "config").mkdir(parents=True)
    (root / "strangler.yaml").write_text("project: greenhouse\n")
    (root / "config" / "migrations.yaml").write_text(MIGRATIONS)
    (root / "mappings").mkdir()
    (root / "mappings" / "__init__.py").write_text("")
    (root / "mappings" / "common.py").write_text("def clean(text):\n    return text.strip()\n")
    (root / "mappings" / "plants.py").write_text(textwrap.dedent(MAPPING))
    (root / "mappings" / "broken.py").write_text("X = (\n")
    (root / "var").mkdir()
    db = sqlite3.connect(root / "var" / "legacy.db")
    db.execute("CREATE TABLE PLANTS (ID INTEGER PRIMARY KEY, NAME TEXT, HEIGHT_MM INTEGER)")
    db.executemany("INSERT INTO PLANTS VALUES (?, ?, ?)", [(i, f" fern {i} ", 100 + i) for i in range(1, 6)])
    db.commit()
    db.close()
    return root


def cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "STRANGLER_VAR_DIR", "STRANGLER_PROJECT", "LEGACY_DATABASE_URL")}
    return subprocess.run([str(STRANGLER), *args], cwd=cwd, env={**environ, "COLUMNS": "400", **env},
                          capture_output=True, text=True, timeout=120)


def _one_line(done: subprocess.CompletedProcess) -> str:
    shown = done.stdout + done.stderr
    assert done.returncode == 2, shown
    assert "Traceback" not in shown and len(shown.strip().splitlines()) == 1, shown
    return shown


def test_mapping_modules_resolve_from_the_project_and_verify_says_what_it_proves(project):
    (project / "docs").mkdir()
    backfill = cli(project / "docs", "migrate", "backfill", "plants")  # the project is found walking up
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    rows = sqlite3.connect(project / "var" / "plants.db").execute("SELECT id, name, height_cm FROM plants").fetchall()
    assert rows[0] == (1, "fern 1", 10) and len(rows) == 5
    verify = cli(project, "migrate", "verify", "plants")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    text = " ".join(verify.stdout.split())
    assert "proves: PLANTS→plants: service row == translate(legacy row) for every key" in text
    assert "a consistently wrong translator passes" in text and "source_domain and target_domain" in text


def test_a_translator_reading_a_missing_column_is_a_quarantine_reason_naming_it(project):
    done = cli(project, "migrate", "backfill", "coloured")
    assert "Traceback" not in done.stderr, done.stderr
    assert "translator reads column 'COLOUR', which the source row does not have" in done.stdout + done.stderr


def test_a_missing_source_file_is_one_line_and_never_created(project, tmp_path):
    missing = tmp_path / "typo" / "legacy.db"
    message = _one_line(cli(project, "migrate", "backfill", "plants", LEGACY_DATABASE_URL=f"sqlite:///{missing}"))
    assert f"source database {missing} does not exist" in " ".join(message.split()) and "Fix:" in message
    assert not missing.exists() and not missing.parent.exists()


def test_a_target_folder_that_does_not_exist_is_named_not_created(project, tmp_path):
    folder = tmp_path / "no-such-folder"
    message = _one_line(cli(project, "migrate", "backfill", "plants",
                            PLANTS_DATABASE_URL=f"sqlite:///{folder}/plants.db"))
    assert f"target database folder {folder} does not exist" in " ".join(message.split())
    assert not folder.exists()


def test_a_mapping_module_that_does_not_import_is_one_line_with_its_location(project):
    message = " ".join(_one_line(cli(project, "migrate", "backfill", "broken")).split())
    assert "mapping 'mappings.broken:X': importing mappings.broken failed: SyntaxError" in message
    assert "broken.py:1" in message
