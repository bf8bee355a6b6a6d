"""Order status rules and request validation (pydantic DTOs)."""
from __future__ import annotations

from decimal import Decimal
from itertools import product

import pytest
from pydantic import ValidationError

from legacy_monolith.catalog.schemas import ProductCreate, ProductUpdate
from legacy_monolith.orders import rules
from legacy_monolith.orders.schemas import OrderCreate, StatusChange

STATUSES = "NPSDC"
ALLOWED = {("N", "P"), ("P", "S"), ("S", "D")}


@pytest.mark.parametrize(("current", "target"), list(product(STATUSES, STATUSES)))
def test_only_the_forward_chain_advances(current: str, target: str) -> None:
    assert rules.can_advance(current, target) is ((current, target) in ALLOWED)


def test_only_new_or_paid_orders_cancel() -> None:
    assert [s for s in STATUSES if rules.can_cancel(s)] == ["N", "P"]


def test_transition_error_names_the_allowed_next_step() -> None:
    assert "only next status is P" in rules.transition_error("N", "D")
    assert "no further status change" in rules.transition_error("D", "P")


def test_order_body_accepts_a_good_order() -> None:
    order = OrderCreate.model_validate({"CustomerId": 3, "Lines": [{"ProductId": 7, "Quantity": 2}],
                                        "Comment": "extra keys are ignored"})
    assert order.Lines[0].Quantity == 2


@pytest.mark.parametrize("body", [
    {"CustomerId": "3", "Lines": [{"ProductId": 7, "Quantity": 1}]},
    {"CustomerId": True, "Lines": [{"ProductId": 7, "Quantity": 1}]},
    {"CustomerId": 3, "Lines": []},
    {"CustomerId": 3, "Lines": [{"ProductId": 7, "Quantity": 0}]},
    {"CustomerId": 3, "Lines": [{"ProductId": 7, "Quantity": -2}]},
    {"CustomerId": 3, "Lines": [{"ProductId": 7, "Quantity": 1.5}]},
    {"CustomerId": 3, "Lines": [{"ProductId": 0, "Quantity": 1}]},
    {"CustomerId": 3},
    {"CustomerId": 3, "Lines": "7x1"},
])
def test_order_body_rejects_bad_input(body: dict) -> None:
    with pytest.raises(ValidationError):
        OrderCreate.model_validate(body)


def test_status_change_refuses_cancel_and_unknown_codes() -> None:
    assert StatusChange.model_validate({"Status": "P"}).Status == "P"
    for bad in ("C", "N", "X", "p", 1):
        with pytest.raises(ValidationError):
            StatusChange.model_validate({"Status": bad})


@pytest.mark.parametrize(("price", "expected"), [("12.5", Decimal("12.50")), (12.5, Decimal("12.50")),
                                                 (7, Decimal("7.00"))])
def test_product_price_accepts_strings_and_numbers(price: object, expected: Decimal) -> None:
    body = ProductCreate.model_validate({"Sku": "A-1", "Name": "n", "Category": "TOOLS", "UnitPrice": price})
    assert body.UnitPrice == expected and body.Active == "Y"


@pytest.mark.parametrize("price", ["abc", True, 0, "-1", None, [], "100000000"])
def test_product_price_rejects_nonsense(price: object) -> None:
    with pytest.raises(ValidationError):
        ProductCreate.model_validate({"Sku": "A-1", "Name": "n", "Category": "TOOLS", "UnitPrice": price})


def test_product_update_needs_at_least_one_field() -> None:
    with pytest.raises(ValidationError, match="at least one"):
        ProductUpdate.model_validate({})
    assert ProductUpdate.model_validate({"Name": "x"}).model_fields_set == {"Name"}
