"""A real monolith under gunicorn (2 workers) on a free loopback port, seeded small, shared by the folder."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from strangler.procs import free_port, running
from tests.identity_auth import LEGACY_ENV, log_in, seeded_email


@dataclass(frozen=True)
class Monolith:
    url: str
    database_url: str
    log: Path


def seed_database(database_url: str, products: int = 50, customers: int = 30, orders: int = 200) -> None:
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--database-url", database_url,
                    "--products", str(products), "--customers", str(customers), "--orders", str(orders)],
                   check=True, capture_output=True, timeout=60, env={**os.environ, **LEGACY_ENV})


@contextlib.contextmanager
def gunicorn_monolith(database_url: str, log: Path, workers: int = 2) -> Iterator[Monolith]:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
            "--no-control-socket",  # gunicorn 27 otherwise shares ~/.gunicorn/gunicorn.ctl between instances
            "legacy_monolith.wsgi:app"]
    url = f"http://127.0.0.1:{port}"
    with running(argv, health_url=f"{url}/healthz", env={"LEGACY_DATABASE_URL": database_url, **LEGACY_ENV},
                 log_path=log,
                 timeout=30, expect_status=200):
        yield Monolith(url=url, database_url=database_url, log=log)


@pytest.fixture(scope="session")
def monolith(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Monolith]:
    workdir = tmp_path_factory.mktemp("legacy_gunicorn")
    database_url = f"sqlite:///{workdir / 'legacy.db'}"
    seed_database(database_url)
    with gunicorn_monolith(database_url, workdir / "gunicorn.log") as server:
        yield server


def race_orders(base_url: str, bodies: list[dict]) -> list[httpx.Response]:
    """POST every body to /api/orders at (nearly) the same instant, one thread per request, each logged in as
    its body's CustomerId (a seeded customer{n}@example.com)."""
    barrier = threading.Barrier(len(bodies))
    responses: list[httpx.Response | BaseException] = [RuntimeError("not run")] * len(bodies)

    def worker(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            log_in(client, seeded_email(bodies[index]["CustomerId"]))
            barrier.wait()
            try:
                responses[index] = client.post("/api/orders", json=bodies[index])
            except httpx.HTTPError as exc:
                responses[index] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    failures = [r for r in responses if isinstance(r, BaseException)]
    assert not failures, failures
    return responses  # type: ignore[return-value]


@pytest.fixture
def race() -> Callable[[str, list[dict]], list[httpx.Response]]:
    return race_orders


@pytest.fixture(scope="session")
def monolith_tools() -> tuple[Callable[..., None], Callable[..., contextlib.AbstractContextManager[Monolith]]]:
    """(seed_database, gunicorn_monolith) for tests that need their own database, e.g. PostgreSQL."""
    return seed_database, gunicorn_monolith
