"""Catalog request DTOs and the legacy JSON shape of a product."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field, model_validator

from legacy_monolith.catalog.models import Product
from legacy_monolith.conventions import money_str
from legacy_monolith.validation import Flag, LegacyBody, Money, PageQuery

SkuText = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9-]+$")]
NameText = Annotated[str, Field(min_length=1, max_length=120)]
CategoryText = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[A-Z0-9_]+$")]
DescriptionText = Annotated[str, Field(max_length=4000)]


class ProductCreate(LegacyBody):
    Sku: SkuText
    Name: NameText
    Description: DescriptionText | None = None
    Category: CategoryText
    UnitPrice: Money
    Active: Flag = "Y"


class ProductUpdate(LegacyBody):
    Sku: SkuText | None = None
    Name: NameText | None = None
    Description: DescriptionText | None = None
    Category: CategoryText | None = None
    UnitPrice: Money | None = None
    Active: Flag | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProductUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of Sku, Name, Description, Category, UnitPrice, Active")
        return self


class ProductQuery(PageQuery):
    category: str | None = Field(None, max_length=10)
    active: Flag | None = None
    q: str | None = Field(None, min_length=1, max_length=120)
    min_price: Decimal | None = Field(None, ge=0)
    max_price: Decimal | None = Field(None, ge=0)


def product_json(product: Product, available: int) -> dict[str, Any]:
    return {
        "ProductId": product.id,
        "Sku": product.sku,
        "Name": product.name,
        "Description": product.description,
        "Category": product.category,
        "UnitPrice": money_str(product.unit_price),
        "Active": product.active,
        "Created": product.created,
        "Updated": product.updated,
        "Available": available,
    }
