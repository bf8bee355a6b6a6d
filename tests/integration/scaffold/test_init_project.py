"""`strangler init` on a Flask monolith the kit has never seen (tests/fixtures/greenhouse), with real
processes: the generated project runs with no edit (`strangler up -d`, a request through the façade is served
by legacy), re-running init keeps the user's edits, and `strangler add service` + `add feature` make the next
step one command each (the plants service then serves its routes through the façade)."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from proxy.table import load_table
from strangler.stack import load_stack

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
MONOLITH, SERVICE = FIXTURES / "greenhouse", FIXTURES / "greenhouse_plants"
BIN = Path(sys.executable).parent
KEY = "init-test-shadow-key-0123456789abcdef"

pytestmark = pytest.mark.integration


def strangler(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "strangler"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No PYTHONPATH and no kit folder as cwd: the app imports from its own folder, the kit is a tool."""
    db = tmp_path / "greenhouse.db"
    base = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "GREENHOUSE_DB_URL": f"sqlite:///{db}",
            "GREENHOUSE_SEED_PLANTS": "12", "PLANTS_DATABASE_URL": f"sqlite:///{tmp_path}/plants.db",
            "STRANGLER_SHADOW_KEY": KEY}
    seeded = subprocess.run([sys.executable, "-m", "greenhouse.seed"], cwd=MONOLITH, env=base, capture_output=True,
                            text=True, timeout=60)
    assert seeded.returncode == 0, seeded.stderr
    return base


def test_init_runs_with_no_edit_and_add_routes_a_feature_to_its_service(tmp_path: Path, env: dict) -> None:
    project = tmp_path / "greenhouse-migration"
    legacy = f"{BIN}/gunicorn -w 1 --no-control-socket -b 127.0.0.1:{{port}} wsgi:app"
    done = strangler("init", str(project), "--legacy", legacy, "--health", "/status", "--flask-app", "wsgi:app",
                     cwd=MONOLITH, env=env)
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    assert "plants: " in done.stdout and "tables (guess): plants" in done.stdout
    assert "strangler up -d" in done.stdout and "strangler url facade" in done.stdout
    template = load_table(project / "config" / "routes.yaml")
    assert template.default == "legacy" and template.features == {}  # proposals wait, commented, for a service
    assert load_stack(project / "config" / "stack.yaml").config.processes["legacy"].cwd == str(MONOLITH)

    try:
        up = strangler("up", "-d", cwd=project, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        facade = strangler("url", "facade", cwd=project, env=env).stdout.strip()
        answer = httpx.get(f"{facade}/api/v1/plants", timeout=30)
        assert answer.status_code == 200 and answer.headers["x-served-by"] == "legacy"
        assert len(answer.json()["data"]) == 12

        # the next step: a service, then the plants feature routed to it (taken from init's proposal)
        service = f"{BIN}/uvicorn plants_service.main:app --host 127.0.0.1 --port {{port}} --app-dir {SERVICE}"
        added = strangler("add", "service", "plants-svc", "--command", service, "--health", "/healthz",
                          cwd=project, env=env)
        assert added.returncode == 0, added.stderr
        added = strangler("add", "feature", "plants", "--target", "plants-svc", cwd=project, env=env)
        assert added.returncode == 0, added.stderr
        for table in (project / "config" / "routes.yaml", project / "var" / "routes.yaml"):
            assert load_table(table).features["plants"].target == "plants-svc"
        assert "#   plants:" not in (project / "config" / "routes.yaml").read_text()  # the proposal is used up
        assert "#   sensors:" in (project / "config" / "routes.yaml").read_text()
        assert strangler("down", cwd=project, env=env).returncode == 0  # a running stack takes no new process
        up = strangler("up", "-d", cwd=project, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        flip = strangler("flip", "plants", "--to", "new", "--force", "--reason", "test", cwd=project, env=env)
        assert flip.returncode == 0, flip.stdout + flip.stderr
        answer = _served(f"{facade}/api/v1/plants", "plants-svc")
        assert answer.status_code == 200 and len(answer.json()["data"]) == 0  # the service's own, empty table
        assert httpx.get(f"{facade}/api/v1/schedules", timeout=30).headers["x-served-by"] == "legacy"
    finally:
        strangler("down", cwd=project, env=env)

    # re-running init keeps the user's edits (and says which files it kept)
    stack = project / "config" / "stack.yaml"
    before = stack.read_text()
    again = strangler("init", str(project), "--legacy", legacy, "--flask-app", "wsgi:app", cwd=MONOLITH, env=env)
    assert again.returncode == 0, again.stderr
    assert "Kept (exist already; --force overwrites): strangler.yaml" in again.stdout
    assert stack.read_text() == before and "plants-svc" in before
    # --force writes every file afresh: the added service is gone from the stack file
    forced = strangler("init", str(project), "--legacy", legacy, "--flask-app", "wsgi:app", "--force",
                       cwd=MONOLITH, env=env)
    assert forced.returncode == 0, forced.stderr
    assert "Kept" not in forced.stdout and "config/stack.yaml" in forced.stdout
    assert "plants-svc" not in stack.read_text() and "#   plants:" in (project / "config" / "routes.yaml").read_text()


def _served(url: str, by: str) -> httpx.Response:
    """The façade hot-reloads the table it is told about; bounded wait for the flip to be in force."""
    for _ in range(100):
        answer = httpx.get(url, timeout=30)
        if answer.headers.get("x-served-by") == by:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{url} never served by {by}: last {answer.headers.get('x-served-by')}")
