"""Real processes for the dry-run safety tests, on free loopback ports and always stopped: two instances of a
third-party FastAPI app (tests/fixtures/loans_app.py: legacy, and the shadow target — with or without the
strangler adapter) and mitmdump running the façade addons in front of them."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from strangler.procs import free_port, running
from tests.integration.shadow.conftest import facade_argv

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures"
BIN = Path(sys.executable).parent
SHADOW_KEY = "dry-run-integration-key-0123456789"
ADMIN_TOKEN = "dry-run-admin-token-0123456789"
ROUTES = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  books: {{url: "http://127.0.0.1:{target}", dry_run_writes: true, timeout_s: 5}}
default: legacy
features:
  loans:
    target: books
    state: {state}
    routes:
      - {{methods: [POST, GET], path: "/loans"}}
      - {{methods: [GET], path: "/loans/{{ref}}"}}
"""


@dataclass
class Stack:
    tmp: Path
    facade: str
    admin: str
    routes: Path
    parity_db: Path
    ledger: Path
    legacy_db: Path
    target_db: Path
    env: dict

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(self.admin + "/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "strangler"), *args], env={**os.environ, **self.env}, cwd=self.tmp,
                              capture_output=True, text=True, timeout=60, check=False)


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM loans").fetchone()[0]


def _uvicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), "--app-dir", str(FIXTURES), app, "--host", "127.0.0.1", "--port", str(port),
            "--log-level", "warning", "--no-access-log"]


@contextmanager
def loans_stack(tmp: Path, target_app: str, state: str = "shadow") -> Iterator[Stack]:
    """Legacy = loans_app on legacy.db; target = `target_app` (loans_app:app or loans_adapted:app) on
    target.db; the façade in front with the feature in `state`."""
    legacy_port, target_port, facade_port, admin_port = (free_port() for _ in range(4))
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(legacy=legacy_port, target=target_port, state=state))
    env = {"STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_SHADOW_KEY": SHADOW_KEY,
           "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN, "STRANGLER_PARITY_STORE": str(tmp / "parity.db"),
           "STRANGLER_ROUTES_FILE": str(routes), "PYTHONPATH": str(REPO)}
    with ExitStack() as stack:
        for name, app, port in (("legacy", "loans_app:app", legacy_port), ("target", target_app, target_port)):
            stack.enter_context(running(_uvicorn(app, port), health_url=f"http://127.0.0.1:{port}/healthz",
                                        env={**env, "LOANS_DATABASE_URL": f"sqlite:///{tmp}/{name}.db"},
                                        cwd=REPO, log_path=tmp / f"{name}.log"))
        legacy = f"http://127.0.0.1:{legacy_port}"
        stack.enter_context(running(
            facade_argv(legacy, facade_port, admin_port, routes, tmp / "parity.db"),
            health_url=f"http://127.0.0.1:{admin_port}/healthz", env=env, cwd=REPO, log_path=tmp / "facade.log",
            timeout=40))
        yield Stack(tmp=tmp, facade=f"http://127.0.0.1:{facade_port}", admin=f"http://127.0.0.1:{admin_port}",
                    routes=routes, parity_db=tmp / "parity.db", ledger=tmp / "var" / "ledger.jsonl",
                    legacy_db=tmp / "legacy.db", target_db=tmp / "target.db", env=env)
