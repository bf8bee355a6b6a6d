"""Fixtures for the monolith's unit tests: a real app on a temporary SQLite file, driven by Flask's client."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from legacy_monolith import create_app
from legacy_monolith.db import make_engine
from legacy_monolith.seed import seed

SECRET_KEY = "unit-test-session-signing-key-not-a-real-one"
PASSWORD = "correct horse battery staple"


def log_in(client: FlaskClient, email: str, password: str = PASSWORD) -> int:
    """Log `client` in (its cookie jar keeps the session); the CustomerId."""
    answer = client.post("/api/login", json={"Email": email, "Password": password})
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["CustomerId"]


def new_customer(client: FlaskClient, email: str) -> int:
    answer = client.post("/api/customers", json={"Email": email, "FirstName": "T", "LastName": "User",
                                                 "Password": PASSWORD})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()["CustomerId"]


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    application = create_app({"LEGACY_DATABASE_URL": f"sqlite:///{tmp_path / 'legacy.db'}",
                              "LEGACY_TZ": "Europe/London", "SECRET_KEY": SECRET_KEY})
    yield application
    application.extensions["legacy_monolith.engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def user(client: FlaskClient) -> int:
    """`client` logged in as a customer of its own (the orders endpoints need one)."""
    new_customer(client, "grace@example.com")
    return log_in(client, "grace@example.com")


@pytest.fixture
def shop(client: FlaskClient) -> dict[str, int]:
    """One customer (`client` is logged in as them) and one product with 5 units in LON1 and 2 in MAN1."""
    customer = client.post("/api/customers", json={"Email": "ada@example.com", "FirstName": "Ada",
                                                   "LastName": "Lovelace", "Password": PASSWORD}).get_json()
    log_in(client, "ada@example.com")
    product = client.post("/api/products", json={"Sku": "TST-1", "Name": "Test lamp", "Category": "ELEC",
                                                 "UnitPrice": "12.50"}).get_json()
    for warehouse, delta in (("LON1", 5), ("MAN1", 2)):
        response = client.post(f"/api/inventory/{product['ProductId']}/adjust",
                               json={"Warehouse": warehouse, "Delta": delta, "Reason": "initial count"})
        assert response.status_code == 200, response.get_json()
    return {"customer": customer["CustomerId"], "product": product["ProductId"]}


@pytest.fixture(scope="module")
def seeded_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('seeded') / 'legacy.db'}"
    engine = make_engine(url)
    seed(engine, products=40, customers=20, orders=120, password=PASSWORD)
    engine.dispose()
    return url


@pytest.fixture
def seeded_client(seeded_url: str) -> Iterator[FlaskClient]:
    application = create_app({"LEGACY_DATABASE_URL": seeded_url, "SECRET_KEY": SECRET_KEY})
    client = application.test_client()
    log_in(client, "customer1@example.com")
    yield client
    application.extensions["legacy_monolith.engine"].dispose()
