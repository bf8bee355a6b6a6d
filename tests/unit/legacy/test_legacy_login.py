"""The demo monolith's login: orders need a logged-in customer, the catalog stays anonymous, the session is
a signed cookie (LEGACY_SECRET_KEY, no default), and the remote-identity endpoint reports who is logged in."""
from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from strangler_app.identity import ENDPOINT, REQUEST_HEADER, request_proof

from legacy_monolith import create_app
from legacy_monolith.db import make_engine
from legacy_monolith.seed import seed
from tests.unit.legacy.conftest import PASSWORD, SECRET_KEY, log_in, new_customer

ORDER_CALLS = [("get", "/api/orders", None), ("get", "/api/orders/1", None),
               ("post", "/api/orders", {"CustomerId": 1, "Lines": [{"ProductId": 1, "Quantity": 1}]}),
               ("post", "/api/orders/1/cancel", None), ("post", "/api/orders/1/status", {"Status": "P"}),
               ("post", "/api/orders", None)]  # not even a body is looked at before the login check


def _order_body(customer: int, product: int) -> dict:
    return {"CustomerId": customer, "Lines": [{"ProductId": product, "Quantity": 1}]}


@pytest.mark.parametrize(("method", "path", "body"), ORDER_CALLS)
def test_orders_answer_401_in_the_legacy_envelope_when_not_logged_in(client: FlaskClient, method: str, path: str,
                                                                     body: dict | None) -> None:
    answer = getattr(client, method)(path, json=body)
    assert answer.status_code == 401
    assert answer.get_json() == {"Success": False, "ErrorCode": "LOGIN_REQUIRED", "ErrorMessage": (
        "log in first: POST /api/login with Email and Password, then send its cookie")}


def test_catalog_customers_and_inventory_reads_stay_anonymous(client: FlaskClient, shop: dict[str, int],
                                                              app: Flask) -> None:
    anonymous = app.test_client()
    for path in ("/api/products", f"/api/products/{shop['product']}", "/api/customers",
                 f"/api/customers/{shop['customer']}", f"/api/inventory/{shop['product']}", "/healthz"):
        assert anonymous.get(path).status_code == 200, path


def test_login_logout_and_wrong_credentials(client: FlaskClient, shop: dict[str, int]) -> None:
    client.post("/api/logout")
    assert client.get("/api/orders").status_code == 401
    for email, password in (("ada@example.com", "wrong password"), ("nobody@example.com", PASSWORD)):
        answer = client.post("/api/login", json={"Email": email, "Password": password})
        assert answer.status_code == 401 and answer.get_json()["ErrorCode"] == "INVALID_CREDENTIALS"
        assert answer.get_json()["ErrorMessage"] == "email or password is wrong"  # same for both: no oracle
    assert client.post("/api/login", json={"Email": "ada@example.com"}).status_code == 400
    answer = client.post("/api/login", json={"Email": "ADA@example.com", "Password": PASSWORD})
    assert answer.get_json() == {"Success": True, "CustomerId": shop["customer"], "Email": "ada@example.com"}
    assert "HttpOnly" in answer.headers["Set-Cookie"]
    assert client.get("/api/orders").status_code == 200
    assert client.post("/api/logout").get_json() == {"Success": True}
    assert client.get("/api/orders").status_code == 401


def test_a_customer_created_without_password_cannot_log_in(client: FlaskClient) -> None:
    client.post("/api/customers", json={"Email": "nopw@example.com", "FirstName": "N", "LastName": "P"})
    answer = client.post("/api/login", json={"Email": "nopw@example.com", "Password": "anything-at-all"})
    assert answer.status_code == 401
    assert "Password" not in client.get("/api/customers?email=nopw@example.com").get_data(as_text=True)


def test_orders_are_placed_for_the_logged_in_customer_but_read_by_any(app: Flask, client: FlaskClient,
                                                                      shop: dict[str, int]) -> None:
    """Legacy behaviour kept (and served the same by the orders service): placing is for yourself only;
    reading, cancelling and status changes were never scoped to the order's customer."""
    placed = client.post("/api/orders", json=_order_body(shop["customer"], shop["product"]))
    assert placed.status_code == 201 and placed.get_json()["CustomerId"] == shop["customer"]
    other = app.test_client()
    new_customer(other, "bob@example.com")
    other_id = log_in(other, "bob@example.com")
    refused = other.post("/api/orders", json=_order_body(shop["customer"], shop["product"]))
    assert refused.status_code == 403 and refused.get_json()["ErrorCode"] == "NOT_YOUR_CUSTOMER_ID"
    order_id = placed.get_json()["OrderId"]
    assert other.get(f"/api/orders/{order_id}").get_json()["CustomerId"] == shop["customer"]
    assert other.post("/api/orders", json=_order_body(other_id, shop["product"])).status_code == 201


def test_a_forged_or_foreign_cookie_is_not_a_login(client: FlaskClient, shop: dict[str, int],
                                                   tmp_path: Path) -> None:
    elsewhere = create_app({"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
                            "SECRET_KEY": "a-different-install-key-0123456789"})
    cookie = client.get_cookie("session")
    assert cookie is not None
    stranger = elsewhere.test_client()
    stranger.set_cookie("session", cookie.value)
    assert stranger.get("/api/orders").status_code == 401
    stranger.set_cookie("session", cookie.value[:-2] + "xx")
    assert stranger.get("/api/orders").status_code == 401
    elsewhere.extensions["legacy_monolith.engine"].dispose()


def test_without_a_secret_key_login_is_503_with_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEGACY_SECRET_KEY", raising=False)
    keyless = create_app({"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'k.db'}"})
    client = keyless.test_client()
    new_customer(client, "k@example.com")
    answer = client.post("/api/login", json={"Email": "k@example.com", "Password": PASSWORD})
    assert answer.status_code == 503 and "Fix: set LEGACY_SECRET_KEY" in answer.get_json()["ErrorMessage"]
    assert client.get("/api/orders").status_code == 401
    keyless.extensions["legacy_monolith.engine"].dispose()


def test_seeded_customers_share_one_hash_and_log_in_by_pattern(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    seed(engine, products=3, customers=5, orders=4, password=PASSWORD)
    with engine.connect() as conn:
        hashes = conn.execute(text("SELECT DISTINCT PWD_HASH FROM CUSTOMERS")).scalars().all()
    engine.dispose()
    assert len(hashes) == 1 and hashes[0].startswith(("scrypt:", "pbkdf2:"))
    app = create_app({"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 's.db'}", "SECRET_KEY": SECRET_KEY})
    assert log_in(app.test_client(), "customer5@example.com") == 5
    app.extensions["legacy_monolith.engine"].dispose()


def test_the_identity_endpoint_reports_the_session_user(tmp_path: Path, shop: dict[str, int],
                                                       client: FlaskClient) -> None:
    key = "k" * 40
    app = create_app({"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'legacy.db'}", "SECRET_KEY": SECRET_KEY,
                      "STRANGLER_IDENTITY_KEY": key})
    cookie = client.get_cookie("session")
    assert cookie is not None
    bridge = app.test_client()
    proof = {REQUEST_HEADER: request_proof(key)}
    anonymous = bridge.post(ENDPOINT, headers=proof).get_json()
    assert anonymous["user_id"] is None
    bridge.set_cookie("session", cookie.value)
    assert bridge.post(ENDPOINT, headers=proof).get_json()["user_id"] == str(shop["customer"])
    assert bridge.post(ENDPOINT).status_code == 403  # no façade proof
    app.extensions["legacy_monolith.engine"].dispose()


def test_the_contract_declares_login_and_the_401s(client: FlaskClient) -> None:
    contract = client.get("/openapi.json").get_json()
    assert set(contract["paths"]["/api/login"]["post"]["responses"]) >= {"200", "400", "401"}
    for path, item in contract["paths"].items():
        for method, op in item.items():
            gated = path.startswith("/api/orders")
            if path != "/api/login":  # login's own 401 is wrong credentials
                assert ("401" in op["responses"]) == gated, (method, path)
            assert (op.get("security") == [{"session": []}]) == gated, (method, path)
    assert "403" in contract["paths"]["/api/orders"]["post"]["responses"]
    assert contract["components"]["securitySchemes"]["session"]["in"] == "cookie"
