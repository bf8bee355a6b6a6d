"""Real processes for the recording tests, on free loopback ports and always stopped: a foreign monolith (the
recipe box, tests/fixtures/recipebox_flask.py: Flask-Login, a session cookie, a JSON login with a password)
under gunicorn, its FastAPI twin under uvicorn (the candidate), and mitmdump running the façade with a
`record:` section for one feature and for the default upstream's traffic."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
BIN = Path(sys.executable).parent
ADMIN_TOKEN = "record-admin-token-0123456789"
IDENTITY_KEY = "record-identity-key-0123456789abcdef"
ROUTES = """\
# recording integration table
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  recipes: {{url: "http://127.0.0.1:{candidate}", timeout_s: 5}}
default: legacy
record: {{rate: 1.0, body_limit: {body_limit}, redact: {{json_paths: [$.password]}}}}
features:
  recipes:
    target: recipes
    state: legacy
    routes:
      - {{methods: [GET], path: "/api/recipes/{{rid}}"}}
      - {{methods: [GET], path: "/api/pantry/mine"}}
    record:
      rate: 1.0
      body_limit: {body_limit}
      max_mb: 1
      redact: {{query: [token], headers: [X-Api-Key], json_paths: [$.nowhere]}}
"""
BODY_LIMIT = 300


@dataclass
class Stack:
    tmp: Path
    facade: str
    admin: str
    legacy: str
    candidate: str
    routes: Path
    store: Path
    env: dict[str, str]

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(self.admin + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        """`strangler ARGS` as an operator runs it (its own process), against this stack's store."""
        return subprocess.run([str(BIN / "strangler"), *args], env={**os.environ, **self.env, **(env or {})},
                              cwd=self.tmp, capture_output=True, text=True, timeout=timeout, check=False)


def wait_for(check: Callable[[], Any], what: str, deadline: float = 30.0) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def facade_argv(legacy: str, port: int, admin_port: int, routes: Path, store: Path) -> list[str]:
    return [str(BIN / "mitmdump"), "--mode", f"reverse:{legacy}@127.0.0.1:{port}", "--set",
            "connection_strategy=lazy", "--set", "keep_host_header=true", "--set", "flow_detail=0", "--set",
            "termlog_verbosity=warn", "-s", str(REPO / "proxy" / "facade.py"), "--set", f"strangler_routes={routes}",
            "--set", f"strangler_admin_port={admin_port}", "--set", f"strangler_parity_db={store}",
            "--set", "strangler_reload_ms=100"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("record-stack")
    legacy_port, candidate_port, facade_port, admin_port = (free_port() for _ in range(4))
    store = tmp / "var" / "parity.db"
    env = {"STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN,
           "STRANGLER_IDENTITY_KEY": IDENTITY_KEY, "STRANGLER_PARITY_STORE": str(store),
           "STRANGLER_ROUTES_FILE": str(tmp / "routes.yaml")}
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(legacy=legacy_port, candidate=candidate_port, body_limit=BODY_LIMIT))
    legacy, candidate = f"http://127.0.0.1:{legacy_port}", f"http://127.0.0.1:{candidate_port}"
    with ExitStack() as stack:
        stack.enter_context(running(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "4", "--chdir",
             str(FIXTURES), "-b", f"127.0.0.1:{legacy_port}", "recipebox_flask:app"], health_url=f"{legacy}/healthz",
            env=env, cwd=REPO, log_path=tmp / "legacy.log"))
        stack.enter_context(running(
            [str(BIN / "uvicorn"), "--app-dir", str(FIXTURES), "recipebox_fastapi:app", "--host", "127.0.0.1",
             "--port", str(candidate_port), "--log-level", "warning", "--no-access-log"],
            health_url=f"{candidate}/healthz", env=env, cwd=REPO, log_path=tmp / "candidate.log"))
        stack.enter_context(running(
            facade_argv(legacy, facade_port, admin_port, routes, store),
            health_url=f"http://127.0.0.1:{admin_port}/healthz", env=env, cwd=REPO, log_path=tmp / "facade.log",
            timeout=40))
        yield Stack(tmp, f"http://127.0.0.1:{facade_port}", f"http://127.0.0.1:{admin_port}", legacy, candidate,
                    routes, store, env)
