"""Bad input to `strangler init` / `strangler add`: one line naming the problem and the fix, exit 2, nothing
written. And `strangler add mapping` on a real legacy table: the skeleton it writes backfills and verifies."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from strangler.migrate.config import load_config
from strangler.procs import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
BIN = Path(sys.executable).parent
LEGACY = "gunicorn -b 127.0.0.1:{port} wsgi:app"

pytestmark = pytest.mark.integration


def strangler(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "strangler"), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(cwd), **env})


def one_line_error(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Fix:" in lines[0], done.stderr
    for word in words:
        assert word in lines[0], lines[0]


def files(root: Path) -> dict[Path, bytes]:
    """Every file and its bytes (the route table's lock sidecar aside: taking the lock writes nothing)."""
    return {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.name.endswith(".lock")}


@pytest.mark.parametrize(("args", "words"), [
    (["--legacy", "gunicorn -b 127.0.0.1:{prot} wsgi:app"], ["{prot}", "{port}"]),
    (["--legacy", "gunicorn wsgi:app"], ["has no {port}"]),
    (["--legacy", LEGACY, "--flask-app", "no_such_app:app", "--python", sys.executable],
     ["ModuleNotFoundError: No module named 'no_such_app'", "--python PATH"]),
    (["--legacy", LEGACY, "--openapi", "http://127.0.0.1:{free}/openapi.json"], ["does not answer", "--openapi FILE"]),
    (["--legacy", LEGACY, "--openapi", "missing.json"], ["cannot read the OpenAPI file missing.json"]),
    (["--legacy", LEGACY, "--health", "status"], ["--health 'status'"]),
])
def test_init_refuses_bad_input_and_writes_nothing(tmp_path: Path, args: list[str], words: list[str]) -> None:
    project = tmp_path / "proj"
    args = [a.replace("{free}", str(free_port())) for a in args]
    one_line_error(strangler("init", str(project), *args, cwd=tmp_path), *words)
    assert not project.exists()


def test_the_apps_own_import_error_is_shown(tmp_path: Path) -> None:
    """The greenhouse app needs GREENHOUSE_DB_URL: its own message reaches the user, as one line."""
    project = tmp_path / "proj"
    done = strangler("init", str(project), "--legacy", LEGACY, "--flask-app", "wsgi:app", "--python", sys.executable,
                     cwd=FIXTURES / "greenhouse")
    one_line_error(done, "RuntimeError: GREENHOUSE_DB_URL is not set")
    assert not project.exists()


def test_add_outside_a_project_or_with_an_unknown_one(tmp_path: Path) -> None:
    one_line_error(strangler("add", "service", "svc", "--command", "x {port}", cwd=tmp_path),
                   "No strangler project here")
    one_line_error(strangler("--project", str(tmp_path / "nope"), "add", "feature", "f", "--target", "svc",
                             "--path", "/x", cwd=tmp_path), "No strangler project at")


def test_add_refuses_bad_edits_and_leaves_every_file_as_it_was(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    assert strangler("init", str(project), "--legacy", LEGACY, cwd=tmp_path).returncode == 0
    before = files(project)
    one_line_error(strangler("add", "service", "svc", "--command", "x --port {prot}", cwd=project), "{prot}")
    one_line_error(strangler("add", "service", "legacy", "--command", "x {port}", cwd=project), "already has")
    one_line_error(strangler("add", "feature", "f", "--target", "nope", "--path", "/x", cwd=project),
                   "unknown upstream 'nope'")
    one_line_error(strangler("add", "feature", "f", "--target", "legacy", "--path", "/x", cwd=project),
                   "targets the default upstream")
    one_line_error(strangler("add", "feature", "f", "--target", "legacy", cwd=project), "give --path")
    one_line_error(strangler("add", "mapping", "plants", "--feature", "plants", cwd=project),
                   "LEGACY_DATABASE_URL is not set")
    one_line_error(strangler("add", "mapping", "plants", "--feature", "plants", "--source-default",
                             f"sqlite:///{tmp_path}/absent.db", cwd=project), "does not exist")
    assert files(project) == before
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize(("typo", "words"), [("{port:legcy}", ["{port:legcy} names no process", "legacy"]),
                                             ("{prot}", ["unknown placeholder {prot}", "{port}"])])
def test_up_with_a_placeholder_typo_in_the_stack_file_writes_nothing(tmp_path: Path, typo: str,
                                                                     words: list[str]) -> None:
    """Before the fix, the per-install secrets were generated into var/secrets.env before the typo was found."""
    project = tmp_path / "proj"
    assert strangler("init", str(project), "--legacy", LEGACY, cwd=tmp_path).returncode == 0
    stack = project / "config" / "stack.yaml"
    stack.write_text(stack.read_text().replace("{port:legacy}", typo, 1))
    before = files(project)
    done = strangler("up", "-d", cwd=project)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {stack}:"), done.stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert files(project) == before and not (project / "var").exists()


def test_add_mapping_writes_a_skeleton_that_backfills_and_verifies(tmp_path: Path) -> None:
    legacy_db = tmp_path / "legacy.db"
    with sqlite3.connect(legacy_db) as db:
        db.execute("CREATE TABLE PLANT (PLANT_ID INTEGER PRIMARY KEY, PLANT_NM VARCHAR(40) NOT NULL, HT NUMERIC)")
        db.executemany("INSERT INTO PLANT VALUES (?, ?, ?)", [(i, f"plant {i}", i * 1.5) for i in range(1, 8)])
    project = tmp_path / "proj"
    assert strangler("init", str(project), "--legacy", LEGACY, cwd=tmp_path).returncode == 0
    url = f"sqlite:///{legacy_db}"
    done = strangler("add", "mapping", "PLANT", "--feature", "plants", "--source-default", url, cwd=project)
    assert done.returncode == 0, done.stderr
    module = (project / "mappings" / "plant.py").read_text()
    assert "legacy PLANT_NM: VARCHAR(40) NOT NULL" in module and "'plant_nm': row['PLANT_NM']" in module
    assert "# Add one with `strangler add mapping" in (project / "config" / "migrations.yaml").read_text()
    entry = load_config(project / "config" / "migrations.yaml")["plants"]
    assert entry.mapping == ["mappings.plant:PLANT"] and entry.source_default == url
    again = strangler("add", "mapping", "PLANT", "--feature", "plants", cwd=project)
    one_line_error(again, "exists")

    backfill = strangler("migrate", "backfill", "plants", cwd=project)
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    verify = strangler("migrate", "verify", "plants", cwd=project)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    with sqlite3.connect(project / "var" / "plants.db") as db:
        assert db.execute("SELECT count(*), max(plant_nm) FROM plant").fetchone() == (7, "plant 7")
