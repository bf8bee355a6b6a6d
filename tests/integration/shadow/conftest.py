"""Real processes for the shadow tests, all on free loopback ports and always stopped: the seeded legacy
monolith under gunicorn (access log on), a real catalog backfill through the CLI, the catalog service under
uvicorn, a tiny failing upstream, and mitmdump running the façade addons in front of them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SHADOW_KEY = "integration-shadow-key-0123456789"
ADMIN_TOKEN = "shadow-admin-token-0123456789"
PRODUCTS = 40
CLI = [sys.executable, "-c",
       "import strangler.cli.migrate; from strangler.cli.app import app; app(prog_name='strangler')"]
ROUTES = """\
# shadow integration table
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}", timeout_s: 5}}
  catalog: {{url: "http://127.0.0.1:{catalog}", dry_run_writes: true, timeout_s: 5}}
  flaky: {{url: "http://127.0.0.1:{flaky}", timeout_s: 2, breaker: {{failure_threshold: 1000}}}}
default: legacy
features:
  catalog:
    target: catalog
    state: shadow
    routes:
      - {{methods: [GET, POST], path: "/api/products"}}
      - {{methods: [GET, PUT], path: "/api/products/{{id}}"}}
      - {{methods: [POST], path: "/api/products/{{id}}/deactivate"}}
    parity: {{noise_sample_rate: 1.0}}
  flaky:
    target: flaky
    state: new
    canary_percent: 50
    routes:
      - {{methods: [GET], path: "/flaky/{{n}}"}}
    rollback: {{max_error_rate: 0.2, min_samples: 20}}
"""


@dataclass
class Stack:
    tmp: Path
    facade: str
    admin: str
    legacy: str
    service: str
    routes: Path
    parity_db: Path
    ledger: Path
    legacy_db: Path
    catalog_db: Path
    legacy_access_log: Path

    def admin_get(self, path: str) -> httpx.Response:
        return httpx.get(self.admin + path, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)

    def metric(self, name: str, **labels: str) -> float:
        """One sample from the façade's /metrics (0 when absent)."""
        for family in text_string_to_metric_families(self.admin_get("/metrics").text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return 0.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("shadow-stack")
    legacy_port, catalog_port, flaky_port, facade_port, admin_port = (free_port() for _ in range(5))
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_SHADOW_KEY": SHADOW_KEY, "LEGACY_TZ": "Europe/London",
           "LEGACY_BASE_URL": f"http://127.0.0.1:{legacy_port}", "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN}
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", str(PRODUCTS), "--customers",
                    "5", "--orders", "10"], env=full_env, cwd=REPO, check=True, capture_output=True, timeout=60)
    routes = tmp / "routes.yaml"
    routes.write_text(ROUTES.format(legacy=legacy_port, catalog=catalog_port, flaky=flaky_port))
    legacy = f"http://127.0.0.1:{legacy_port}"
    service = f"http://127.0.0.1:{catalog_port}"
    access_log = tmp / "legacy-access.log"
    with ExitStack() as stack:
        stack.enter_context(running(
            # gthread + keep-alive, as config/stack.yaml runs the monolith behind the façade
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive", "75",
             "--no-control-socket", "-b", f"127.0.0.1:{legacy_port}", "--access-logfile",
             str(access_log), "legacy_monolith.wsgi:app"], health_url=f"{legacy}/healthz", env=env, cwd=REPO,
            log_path=tmp / "legacy.log"))
        done = subprocess.run([*CLI, "migrate", "backfill", "catalog", "--batch-size", "20", "--json"],
                              env=full_env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr + done.stdout
        assert json.loads(done.stdout)["tables"][0]["failed"] == 0
        stack.enter_context(running(
            [sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--host", "127.0.0.1", "--port",
             str(catalog_port)], health_url=f"{service}/healthz", env=env, cwd=REPO, log_path=tmp / "catalog.log"))
        stack.enter_context(running(
            [str(BIN / "uvicorn"), "--app-dir", str(HERE), "flaky_app:app", "--host", "127.0.0.1", "--port",
             str(flaky_port), "--log-level", "warning", "--no-access-log"],
            health_url=f"http://127.0.0.1:{flaky_port}/healthz", log_path=tmp / "flaky.log"))
        stack.enter_context(running(
            facade_argv(legacy, facade_port, admin_port, routes, tmp / "parity.db"),
            health_url=f"http://127.0.0.1:{admin_port}/healthz", env=env, cwd=REPO, log_path=tmp / "facade.log",
            timeout=40))
        yield Stack(tmp=tmp, facade=f"http://127.0.0.1:{facade_port}", admin=f"http://127.0.0.1:{admin_port}",
                    legacy=legacy, service=service, routes=routes, parity_db=tmp / "parity.db",
                    ledger=tmp / "var" / "ledger.jsonl", legacy_db=tmp / "legacy.db", catalog_db=tmp / "catalog.db",
                    legacy_access_log=access_log)


def wait_for(check, what: str, deadline: float = 30.0):
    """Poll `check()` until it returns something truthy; bounded in time."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def facade_argv(legacy: str, facade_port: int, admin_port: int, routes: Path, parity_db: Path) -> list[str]:
    """mitmdump running the kit's façade in front of `legacy`, reloading the table every 100 ms."""
    return [str(BIN / "mitmdump"), "--mode", f"reverse:{legacy}@127.0.0.1:{facade_port}",
            "--set", "connection_strategy=lazy", "--set", "keep_host_header=true", "--set", "flow_detail=0",
            "--set", "termlog_verbosity=warn", "-s", str(REPO / "proxy" / "facade.py"),
            "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin_port}",
            "--set", f"strangler_parity_db={parity_db}", "--set", "strangler_reload_ms=100"]
