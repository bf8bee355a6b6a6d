"""`strangler init --openapi URL` against a real app answering its OpenAPI document (the greenhouse's FastAPI
twin under uvicorn): one feature per first path segment after api/v1 (the twin has no tags, so its /status is
proposed as a feature too), its routes as templates with their methods, and a load mix of the GET routes. The
failing URL and the file have their own tests (test_init_bad_input.py, tests/unit/scaffold/test_discover.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from strangler.procs import free_port, running

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SERVICE = FIXTURES / "greenhouse_plants"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.integration


def test_init_reads_the_features_from_an_openapi_url(tmp_path: Path) -> None:
    port = free_port()
    uvicorn = [
        sys.executable,
        "-m",
        "uvicorn",
        "plants_service.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
    ]
    env = {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PLANTS_DATABASE_URL": f"sqlite:///{tmp_path}/p.db",
        "STRANGLER_SHADOW_KEY": "openapi-test-shadow-key-0123456789abcdef",
    }  # the twin's dry-run adapter needs one
    project = tmp_path / "proj"
    url = f"http://127.0.0.1:{port}/openapi.json"
    with running(
        uvicorn, health_url=f"http://127.0.0.1:{port}/status", env=env, cwd=SERVICE, log_path=tmp_path / "service.log"
    ):
        done = subprocess.run(
            [
                str(BIN / "strangler"),
                "init",
                str(project),
                "--legacy",
                "gunicorn -b 127.0.0.1:{port} wsgi:app",
                "--openapi",
                url,
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Read OpenAPI document {url}." in done.stdout, done.stdout
    assert "plants: 6 method+path routes in 2 templates (e.g. /api/v1/plants)" in done.stdout, done.stdout
    assert "status: 2 method+path routes in 1 templates" in done.stdout, done.stdout  # a first segment too
    proposals = (project / "config" / "routes.yaml").read_text()
    assert '#       - {methods: [GET, HEAD, POST], path: "/api/v1/plants"}' in proposals, proposals
    assert '#       - {methods: [GET, HEAD, PATCH], path: "/api/v1/plants/{plant_ref}"}' in proposals, proposals
    mix = yaml.safe_load((project / "config" / "load-mix.yaml").read_text())["mixes"]["read"]
    assert sorted(entry["path"] for entry in mix) == ["/api/v1/plants", "/api/v1/plants/{plant_ref}", "/status"]
    assert yaml.safe_load((project / "config" / "footprint.yaml").read_text())["features"]["plants"] == ["plants"]
