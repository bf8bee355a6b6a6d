"""Every endpoint's real responses (success and error envelope) validate against GET /openapi.json."""
from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.identity_auth import PASSWORD

pytestmark = pytest.mark.integration


class Contract:
    """Validates responses against the served OpenAPI document and records which operations were hit."""

    def __init__(self, document: dict) -> None:
        self.document = document
        self.seen: set[tuple[str, str, int]] = set()
        Draft202012Validator.check_schema({"$defs": document["components"]["schemas"]})

    def _template(self, path: str) -> str:
        for template in sorted(self.document["paths"], key=lambda t: t.count("{")):  # literal segments win
            if re.match("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$", path):
                return template
        raise AssertionError(f"{path} is not in the contract")

    def check(self, response: httpx.Response) -> dict:
        method, path = response.request.method.lower(), response.request.url.path
        template = self._template(path)
        operation = self.document["paths"][template].get(method)
        if operation is None:  # a method the contract does not offer must be refused with the envelope
            assert response.status_code == 405, f"{method.upper()} {template} missing from the contract"
            ref = {"$ref": "#/components/schemas/Error"}
        else:
            declared = operation["responses"].get(str(response.status_code))
            assert declared is not None, f"{method.upper()} {template} answered undeclared {response.status_code}"
            ref = declared["content"]["application/json"]["schema"]
        schema = {**ref, "components": self.document["components"]}
        body = response.json()
        Draft202012Validator(schema).validate(body)
        self.seen.add((template, method, response.status_code))
        return body


@pytest.fixture(scope="module")
def api(monolith) -> Iterator[tuple[httpx.Client, Contract]]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=monolith.url, timeout=10) as client:
        document = client.get("/openapi.json").json()
        assert document["openapi"].startswith("3.1")
        yield client, Contract(document)


def test_every_endpoint_matches_the_contract(api: tuple[httpx.Client, Contract]) -> None:
    client, contract = api
    c = contract.check
    c(client.get("/healthz"))
    # catalog
    assert c(client.get("/api/products", params={"page": 2, "page_size": 5}))["Total"] >= 50
    c(client.get("/api/products", params={"category": "TOOLS", "active": "Y", "q": "a", "min_price": 1,
                                          "max_price": 900}))
    c(client.get("/api/products", params={"page_size": 999}))
    product = c(client.get("/api/products/1"))
    c(client.get("/api/products/99999"))
    new = c(client.post("/api/products", json={"Sku": "CT-1", "Name": "Contract", "Category": "BOOKS",
                                               "UnitPrice": "3.10", "Description": "d"}))
    c(client.post("/api/products", json={"Sku": product["Sku"], "Name": "x", "Category": "BOOKS",
                                         "UnitPrice": "1"}))
    c(client.post("/api/products", json={"Sku": "lower case!", "Name": "x", "Category": "BOOKS"}))
    c(client.put(f"/api/products/{new['ProductId']}", json={"Name": "Contract 2"}))
    c(client.put(f"/api/products/{new['ProductId']}", json={"Sku": product["Sku"]}))
    c(client.put(f"/api/products/{new['ProductId']}", content=b"{oops", headers={"content-type": "application/json"}))
    c(client.put("/api/products/99999", json={"Name": "x"}))
    c(client.post(f"/api/products/{new['ProductId']}/deactivate"))
    c(client.post("/api/products/99999/deactivate"))
    # customers
    c(client.get("/api/customers", params={"page_size": 3}))
    c(client.get("/api/customers", params={"page": 0}))
    customer = c(client.post("/api/customers", json={"Email": "ct@example.com", "FirstName": "C",
                                                     "LastName": "T", "Password": PASSWORD}))
    c(client.post("/api/customers", json={"Email": "ct@example.com", "FirstName": "C", "LastName": "T"}))
    c(client.post("/api/customers", json={"Email": 5}))
    c(client.get(f"/api/customers/{customer['CustomerId']}"))
    c(client.get("/api/customers/99999"))
    c(client.put(f"/api/customers/{customer['CustomerId']}", json={"Phone": "+44 1234 567890"}))
    # 409: a seeded email
    c(client.put(f"/api/customers/{customer['CustomerId']}", json={"Email": "customer1@example.com"}))
    c(client.put(f"/api/customers/{customer['CustomerId']}", json={"Vip": "maybe"}))
    c(client.put("/api/customers/99999", json={"Vip": "Y"}))
    assert c(client.get("/api/customers/1/summary"))["OrderCount"] > 0
    c(client.get(f"/api/customers/{customer['CustomerId']}/summary"))
    c(client.get("/api/customers/99999/summary"))
    # inventory
    stocked = c(client.post("/api/products", json={"Sku": "CT-2", "Name": "Stocked", "Category": "BOOKS",
                                                   "UnitPrice": 4}))["ProductId"]
    c(client.get("/api/inventory/1"))
    c(client.get("/api/inventory/99999"))
    c(client.get("/api/inventory/availability", params={"ids": f"1,{stocked},99999"}))
    c(client.get("/api/inventory/availability", params={"ids": "1,x"}))
    c(client.post(f"/api/inventory/{stocked}/adjust", json={"Warehouse": "LON1", "Delta": 3, "Reason": "count"}))
    c(client.post(f"/api/inventory/{stocked}/adjust", json={"Warehouse": "LON1", "Delta": -100000, "Reason": "lost"}))
    c(client.post(f"/api/inventory/{stocked}/adjust", json={"Warehouse": "NOPE", "Delta": 1, "Reason": "x"}))
    c(client.post(f"/api/inventory/{stocked}/adjust", json={"Warehouse": "LON1", "Delta": "1", "Reason": "x"}))
    c(client.post("/api/inventory/99999/adjust", json={"Warehouse": "LON1", "Delta": 1, "Reason": "x"}))
    rsv = c(client.post("/api/inventory/reservations", json={"ProductId": stocked, "Quantity": 1}))
    c(client.post("/api/inventory/reservations", json={"ProductId": stocked, "Quantity": 100000}))
    c(client.post("/api/inventory/reservations", json={"ProductId": stocked, "Quantity": 1, "Warehouse": "NOPE"}))
    c(client.post("/api/inventory/reservations", json={"ProductId": stocked, "Quantity": 0}))
    c(client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/release"))
    c(client.post(f"/api/inventory/reservations/{rsv['ReservationId']}/release"))
    c(client.post("/api/inventory/reservations/99999/release"))
    # idempotent reservations (Reference), lookup by Reference, consuming on ship
    keyed = {"ProductId": stocked, "Quantity": 1, "Reference": "ct-key-1"}
    krsv = c(client.post("/api/inventory/reservations", json=keyed))
    assert c(client.post("/api/inventory/reservations", json=keyed)) == krsv
    c(client.post("/api/inventory/reservations", json={**keyed, "Quantity": 2}))
    assert c(client.get("/api/inventory/reservations", params={"reference": "ct-key-1"}))["Reservations"] == [krsv]
    c(client.get("/api/inventory/reservations", params={"status": "Q"}))
    assert c(client.post(f"/api/inventory/reservations/{krsv['ReservationId']}/consume"))["Status"] == "C"
    c(client.post(f"/api/inventory/reservations/{krsv['ReservationId']}/consume"))
    c(client.post("/api/inventory/reservations/99999/consume"))
    # login: orders answer 401 before it; wrong password 401, bad body 400, then logged in as the new customer
    c(client.get("/api/orders"))
    c(client.post("/api/orders", json={"CustomerId": customer["CustomerId"], "Lines": []}))
    c(client.post("/api/login", json={"Email": "ct@example.com", "Password": "wrong-password"}))
    c(client.post("/api/login", json={"Email": "ct@example.com"}))
    assert c(client.post("/api/login", json={"Email": "ct@example.com", "Password": PASSWORD}))["Success"] is True
    # untracked release / consume of what legacy orders reserved without a reservation row
    for op, ref in (("release", "ct-rel"), ("consume-untracked", "ct-con")):
        legacy_order = c(client.post("/api/orders", json={"CustomerId": customer["CustomerId"],
                                                          "Lines": [{"ProductId": stocked, "Quantity": 1}]}))
        move = {"Warehouse": legacy_order["Lines"][0]["Warehouse"], "Quantity": 1, "Reference": ref}
        done = c(client.post(f"/api/inventory/{stocked}/{op}", json=move))
        assert c(client.post(f"/api/inventory/{stocked}/{op}", json=move)) == done
        c(client.post(f"/api/inventory/{stocked}/{op}", json={**move, "Reference": f"{ref}-2"}))  # 409: none left
        c(client.post(f"/api/inventory/{stocked}/{op}", json={**move, "Warehouse": "NOPE", "Reference": f"{ref}-3"}))
        c(client.post(f"/api/inventory/{stocked}/{op}", json={"Warehouse": "LON1", "Quantity": 1}))
    # orders
    c(client.get("/api/orders", params={"customer_id": 1, "page_size": 2}))
    c(client.get("/api/orders", params={"status": "Z"}))
    order = c(client.post("/api/orders", json={"CustomerId": customer["CustomerId"],
                                               "Lines": [{"ProductId": stocked, "Quantity": 1}]}))
    c(client.post("/api/orders", json={"CustomerId": 99999, "Lines": [{"ProductId": stocked, "Quantity": 1}]}))  # 403
    mine = customer["CustomerId"]
    c(client.post("/api/orders", json={"CustomerId": mine, "Lines": [{"ProductId": stocked, "Quantity": 100000}]}))
    c(client.post("/api/orders", json={"CustomerId": mine, "Lines": []}))
    c(client.get(f"/api/orders/{order['OrderId']}"))
    c(client.get("/api/orders/99999"))
    c(client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "P"}))
    c(client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "D"}))
    c(client.post(f"/api/orders/{order['OrderId']}/status", json={"Status": "C"}))
    c(client.post("/api/orders/99999/status", json={"Status": "P"}))
    c(client.post(f"/api/orders/{order['OrderId']}/cancel"))
    c(client.post(f"/api/orders/{order['OrderId']}/cancel"))
    c(client.post("/api/orders/99999/cancel"))
    c(client.delete("/api/orders/1"))
    assert c(client.post("/api/logout")) == {"Success": True}
    c(client.get(f"/api/orders/{order['OrderId']}"))  # 401 again

    missing_ok = {(t, m) for t, ops in contract.document["paths"].items() for m in ops if t != "/openapi.json"}
    hit_ok = {(t, m) for t, m, s in contract.seen if s < 300}
    hit_error = {(t, m) for t, m, s in contract.seen if s >= 400} | {("/healthz", "get"), ("/api/logout", "post")}
    assert missing_ok - hit_ok == set(), "operations never exercised with success"
    assert missing_ok - hit_error == set(), "operations never exercised with an error"


def test_unknown_route_answers_the_envelope(api: tuple[httpx.Client, Contract]) -> None:
    client, contract = api
    response = client.get("/no/such/page")
    assert response.status_code == 404
    schema = {"$ref": "#/components/schemas/Error", "components": contract.document["components"]}
    Draft202012Validator(schema).validate(response.json())
