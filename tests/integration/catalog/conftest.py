"""Real stack for the catalog tests: seeded legacy monolith under gunicorn, backfill through the CLI, catalog
service under uvicorn — all on free loopback ports, shared by the module, always stopped."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[3]
SHADOW_KEY = "integration-shadow-key-0123456789"
PRODUCTS = 150
# Runs the CLI exactly as `strangler migrate …` does, whether or not the lead registered the module yet.
CLI = [sys.executable, "-c",
       "import strangler.cli.migrate; from strangler.cli.app import app; app(prog_name='strangler')"]


@dataclass
class Stack:
    legacy: str
    service: str
    catalog_db: str
    var_dir: Path
    backfill: dict
    products: int = PRODUCTS
    shadow_key: str = SHADOW_KEY


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("catalog-stack")
    legacy_port, service_port = free_port(), free_port()
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_SHADOW_KEY": SHADOW_KEY, "LEGACY_TZ": "Europe/London",
           "LEGACY_BASE_URL": f"http://127.0.0.1:{legacy_port}"}
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", str(PRODUCTS), "--customers",
                    "20", "--orders", "80"], env=full_env, cwd=REPO, check=True, capture_output=True, timeout=60)
    legacy = f"http://127.0.0.1:{legacy_port}"
    with running([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{legacy_port}",
                  "legacy_monolith.wsgi:app"], health_url=f"{legacy}/healthz", env=env, cwd=REPO,
                 log_path=tmp / "legacy.log"):
        done = subprocess.run([*CLI, "migrate", "backfill", "catalog", "--batch-size", "40", "--json"],
                              env=full_env, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr + done.stdout
        report = json.loads(done.stdout)
        service = f"http://127.0.0.1:{service_port}"
        with running([sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--host", "127.0.0.1",
                      "--port", str(service_port)], health_url=f"{service}/healthz", env=env, cwd=REPO,
                     log_path=tmp / "catalog.log"):
            yield Stack(legacy=legacy, service=service, catalog_db=env["CATALOG_DATABASE_URL"],
                        var_dir=tmp / "var", backfill=report)
