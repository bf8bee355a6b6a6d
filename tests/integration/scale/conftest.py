"""Shared fixtures of the scale tests: a unique PostgreSQL schema per test module, dropped afterwards."""
from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from proxy.shared_store import SharedStore

PG_ENV = "STRANGLER_TEST_PG_URL"


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.skip(f"{PG_ENV} is not set (e.g. postgresql+psycopg://root@127.0.0.1:5432/test): "
                    "the shared-store tests need a PostgreSQL server")
    return url


@pytest.fixture(scope="module")
def pg_store() -> Iterator[SharedStore]:
    base = pg_base_url()
    store = SharedStore(f"{base}{'&' if '?' in base else '?'}schema=t_{uuid.uuid4().hex[:12]}")
    try:
        store.ensure_schema()
    except Exception as exc:  # noqa: BLE001 - a configured but unreachable server is a failure, say why
        pytest.fail(f"{PG_ENV} is set but the server is unusable: {exc}")
    yield store
    store.drop()
