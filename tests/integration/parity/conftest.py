"""Real stack for the parity tests: small seeded monolith under gunicorn, catalog backfilled through the CLI,
catalog service under uvicorn — free loopback ports, shared by the module, always stopped."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[3]
SHADOW_KEY = "integration-shadow-key-parity-0123456789"
PRODUCTS = 40
# The CLI exactly as `strangler …` runs it, whether or not the lead registered the modules yet.
CLI = [sys.executable, "-c", "import strangler.cli.migrate, strangler.cli.load, strangler.cli.parity; "
       "from strangler.cli.app import app; app(prog_name='strangler')"]
MIX = """
mixes:
  products:
    - name: list products
      path: /api/products?page={page}&page_size=20
      params: {page: {range: [1, 2]}}
      weight: 1
      expect: [200]
    - name: get product
      path: /api/products/{id}
      params: {id: {range: [1, 6]}}
      weight: 3
      expect: [200, 404]
"""


@dataclass
class Stack:
    legacy: str
    service: str
    catalog_db: Path
    tmp: Path
    env: dict[str, str]
    mix: Path

    def cli(self, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run([*CLI, *args], env={**os.environ, **self.env}, cwd=REPO, capture_output=True,
                              text=True, timeout=timeout)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("parity-stack")
    legacy_port, service_port = free_port(), free_port()
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "STRANGLER_SHADOW_KEY": SHADOW_KEY, "LEGACY_TZ": "Europe/London",
           "LEGACY_BASE_URL": f"http://127.0.0.1:{legacy_port}"}  # the catalog asks legacy for availability
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", str(PRODUCTS), "--customers",
                    "5", "--orders", "5"], env=full_env, cwd=REPO, check=True, capture_output=True, timeout=60)
    mix = tmp / "mix.yaml"
    mix.write_text(MIX)
    legacy = f"http://127.0.0.1:{legacy_port}"
    with running([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{legacy_port}",
                  "legacy_monolith.wsgi:app"], health_url=f"{legacy}/healthz", env=env, cwd=REPO,
                 log_path=tmp / "legacy.log"):
        stack = Stack(legacy, f"http://127.0.0.1:{service_port}", tmp / "catalog.db", tmp, env, mix)
        done = stack.cli("migrate", "backfill", "catalog", "--json")
        assert done.returncode == 0, done.stderr + done.stdout
        with running([sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--host", "127.0.0.1",
                      "--port", str(service_port)], health_url=f"{stack.service}/healthz", env=env, cwd=REPO,
                     log_path=tmp / "catalog.log"):
            yield stack
