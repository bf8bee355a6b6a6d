"""Dashboard unit harness: the façade addons (tests/unit/proxy/facade_harness.py) plus the admin app."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "proxy"))

from facade_harness import facade, routes  # noqa: F401 - pytest fixtures

from proxy.admin import create_admin_app
from proxy.dashboard.sessions import Sessions

TOKEN = "dashboard-unit-token-0123456789"


@pytest.fixture
def sessions() -> Sessions:
    return Sessions(TOKEN)


@pytest.fixture
def client(facade, sessions):  # noqa: F811 - the fixture, not the imported function
    """The admin app on TestClient (base URL http://testserver); not logged in."""
    with TestClient(create_admin_app(facade.state, TOKEN, sessions=sessions), follow_redirects=False) as c:
        yield c


def login(client: TestClient) -> str:
    """Log in through the form; returns the page's CSRF token."""
    r = client.post("/ui/login", data={"token": TOKEN})
    assert r.status_code == 303, r.text
    page = client.get("/ui")
    assert page.status_code == 200
    marker = '<meta name="csrf-token" content="'
    start = page.text.index(marker) + len(marker)
    return page.text[start:page.text.index('"', start)]
