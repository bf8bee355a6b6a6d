"""Legacy + catalog databases for the data-migration tests, on SQLite files AND on the real PostgreSQL.

PostgreSQL: set STRANGLER_TEST_PG_URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test; .ci/run does).
Each test gets two fresh databases with unique names, dropped afterwards.
"""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from legacy_monolith.db import make_engine
from legacy_monolith.seed import seed

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config" / "migrations.yaml"
PG_ENV = "STRANGLER_TEST_PG_URL"


@dataclass(frozen=True)
class Databases:
    backend: str
    legacy_url: str
    catalog_url: str
    var_dir: Path

    @property
    def env(self) -> dict[str, str]:
        return {"LEGACY_DATABASE_URL": self.legacy_url, "CATALOG_DATABASE_URL": self.catalog_url,
                "STRANGLER_VAR_DIR": str(self.var_dir), "STRANGLER_MIGRATIONS_FILE": str(CONFIG),
                "LEGACY_TZ": "Europe/London"}


def _pg_databases(base_url: str, count: int) -> tuple[list[str], object]:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    names = [f"strangler_mig_{uuid.uuid4().hex[:10]}" for _ in range(count)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base_url)
    return [url.set(database=n).render_as_string(hide_password=False) for n in names], (admin, names)


def _pg_drop(handle) -> None:
    admin, names = handle
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dbs(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Databases]:
    handle = None
    if request.param == "sqlite":
        legacy, catalog = f"sqlite:///{tmp_path}/legacy.db", f"sqlite:///{tmp_path}/catalog.db"
    else:
        base = os.environ.get(PG_ENV)
        if not base:
            pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://root@127.0.0.1:5432/test)")
        (legacy, catalog), handle = _pg_databases(base, 2)
    databases = Databases(request.param, legacy, catalog, tmp_path / "var")
    for key, value in databases.env.items():
        monkeypatch.setenv(key, value)
    try:
        yield databases
    finally:
        if handle is not None:
            _pg_drop(handle)


def seed_legacy(url: str, products: int) -> None:
    """The monolith's own schema and deterministic seed (products only matter here)."""
    engine = make_engine(url)
    try:
        seed(engine, products, 5, 0)
    finally:
        engine.dispose()


def strangler(*args: str, env: dict[str, str], check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real CLI in a child process (`python -m strangler ...`)."""
    result = subprocess.run([sys.executable, "-m", "strangler", *args], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, **env, "COLUMNS": "200"}, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"strangler {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n"
                             f"{result.stderr}")
    return result
