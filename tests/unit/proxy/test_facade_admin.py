"""Admin API app: token required, flips go through flip_feature and are live at once, bad input is 4xx."""
from __future__ import annotations

import pytest
from mitmproxy import exceptions, hooks
from starlette.testclient import TestClient

from proxy.addons.admin_server import AdminServer
from proxy.admin import create_admin_app

TOKEN = "t" * 24
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(facade, tmp_path, monkeypatch):
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(tmp_path / "var"))

    with TestClient(create_admin_app(facade.state, TOKEN)) as c:
        yield c


def test_healthz_is_open_everything_else_needs_the_token(client):
    assert client.get("/healthz").status_code == 200
    for method, path in (("GET", "/routes"), ("GET", "/ledger"), ("GET", "/metrics"), ("POST", "/flip")):
        assert client.request(method, path).status_code == 401
        assert client.request(method, path, headers={"Authorization": "Bearer wrong-token-xxxxxxxx"}).status_code \
            == 401


def test_flip_is_persisted_ledgered_and_live(client, facade):
    r = client.post("/flip", headers=AUTH, json={"feature": "items", "to": "canary", "percent": 25, "reason": "t"})
    assert r.status_code == 200, r.text
    assert r.json()["flip"]["actor"] == "admin-api"
    assert facade.state.current.table.features["items"].state.value == "canary"
    assert "state: canary" in facade.routes.read_text() and "# test table" in facade.routes.read_text()
    routes = client.get("/routes", headers=AUTH).json()
    assert routes["features"]["items"] == {**routes["features"]["items"], "state": "canary", "canary_percent": 25}
    ledger = client.get("/ledger", headers=AUTH).json()["records"]
    assert ledger[-1]["feature"] == "items" and ledger[-1]["to_state"] == "canary"


@pytest.mark.parametrize("body,status", [
    ({"feature": "items"}, 422),
    ({"feature": "items", "to": "sideways"}, 400),
    ({"feature": "nope", "to": "new"}, 400),
    ({"feature": "items", "to": "retired"}, 409),
    ({"feature": "items", "to": "new", "percent": 5}, 400),
    ({"feature": "items", "to": "new", "extra": 1}, 422),
])
def test_bad_flips_are_clear_client_errors(client, body, status):
    r = client.post("/flip", headers=AUTH, json=body)
    assert r.status_code == status, r.text
    assert r.json()["message"]


def test_non_json_body_and_bad_limit(client):
    assert client.post("/flip", headers=AUTH, content=b"{nope").status_code == 400
    assert client.get("/ledger?limit=x", headers=AUTH).status_code == 400


def test_metrics_are_prometheus_text(client):
    r = client.get("/metrics", headers=AUTH)
    assert r.status_code == 200 and "strangler_breaker_state" in r.text and r.headers["content-type"].startswith(
        "text/plain")


@pytest.mark.parametrize("token", [None, "short"])
def test_admin_enabled_without_a_good_token_refuses_to_start(facade, monkeypatch, token):
    if token is None:
        monkeypatch.delenv("STRANGLER_ADMIN_TOKEN", raising=False)
    else:
        monkeypatch.setenv("STRANGLER_ADMIN_TOKEN", token)
    admin = AdminServer(facade.state)
    facade.tctx.options.strangler_admin_port = 18081
    with pytest.raises(exceptions.OptionsError, match="STRANGLER_ADMIN_TOKEN"):
        facade.tctx.master.addons.invoke_addon_sync(admin, hooks.ConfigureHook({"strangler_admin_port"}))


def test_admin_must_bind_loopback(facade, monkeypatch):
    monkeypatch.setenv("STRANGLER_ADMIN_TOKEN", TOKEN)
    admin = AdminServer(facade.state)
    facade.tctx.options.update(strangler_admin_port=18081, strangler_admin_host="0.0.0.0")
    with pytest.raises(exceptions.OptionsError, match="loopback"):
        facade.tctx.master.addons.invoke_addon_sync(admin, hooks.ConfigureHook({"strangler_admin_host"}))
