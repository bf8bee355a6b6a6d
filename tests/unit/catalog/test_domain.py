"""Catalog domain invariants."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from new_services.catalog.domain import DomainError, Product, ProductStatus

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make(**overrides) -> Product:
    values = {"sku": "SKU-1", "name": "Kettle", "category": "KITCHEN", "price": Decimal("12.50"), "now": NOW}
    values.update(overrides)
    return Product.create(**values)


def test_new_product_is_active_with_equal_timestamps() -> None:
    product = make()
    assert product.status is ProductStatus.ACTIVE and product.id is None
    assert product.created_at == product.updated_at == NOW


@pytest.mark.parametrize(("field", "value"), [
    ("name", ""), ("name", "   "), ("name", "x" * 121), ("sku", "sku-1"), ("sku", ""), ("sku", "--"),
    ("sku", "A" * 21), ("sku", "A B"), ("price", Decimal("-0.01")), ("price", Decimal("0.001")),
    ("price", Decimal("NaN")), ("price", 12.5), ("price", Decimal("100000000.00")), ("category", "kitchen"),
    ("category", ""), ("currency", "gbp"), ("description", "d" * 4001),
])
def test_invariants_name_the_field(field: str, value: object) -> None:
    with pytest.raises(DomainError) as caught:
        make(**{field: value})
    assert caught.value.field == field


def test_zero_price_is_allowed() -> None:
    assert make(price=Decimal("0.00")).price == 0


def test_naive_timestamps_refused() -> None:
    with pytest.raises(DomainError):
        Product(id=1, sku="A", name="n", description=None, category="C", price=Decimal(1),
                status=ProductStatus.ACTIVE, created_at=datetime(2024, 1, 1), updated_at=NOW)


def test_revise_revalidates_and_moves_updated_at() -> None:
    product = make().stored_as(5)
    later = datetime(2024, 6, 1, tzinfo=UTC)
    revised = product.revise(later, name="Big Kettle")
    assert revised.name == "Big Kettle" and revised.updated_at == later and revised.created_at == NOW
    with pytest.raises(DomainError):
        product.revise(later, price=Decimal("-1"))
    with pytest.raises(DomainError):
        product.revise(later, created_at=later)


def test_deactivate() -> None:
    assert make().stored_as(1).deactivate(NOW).status is ProductStatus.INACTIVE
