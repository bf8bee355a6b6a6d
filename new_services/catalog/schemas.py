"""Native API (/v2) request and response models: separate Create / Update / Public shapes."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from new_services.catalog.domain import Product, ProductStatus


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(examples=["SKU-000123"])
    name: str
    description: str | None = None
    category: str = Field(examples=["TOOLS"])
    price: Decimal = Field(description="amount with at most 2 decimal places, as a string: \"12.50\"")
    currency: str = "GBP"
    status: ProductStatus = ProductStatus.ACTIVE


class ProductUpdate(BaseModel):
    """Partial update: only the fields sent are changed (send description null to clear it)."""

    model_config = ConfigDict(extra="forbid")

    sku: str | None = None
    name: str | None = None
    description: str | None = None
    category: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    status: ProductStatus | None = None


class ProductPublic(BaseModel):
    id: int
    sku: str
    name: str
    description: str | None
    category: str
    price: str = Field(description="decimal string with 2 places")
    price_minor: int = Field(description="price in minor units (pence)")
    currency: str
    status: ProductStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, product: Product) -> ProductPublic:
        assert product.id is not None
        return cls(id=product.id, sku=product.sku, name=product.name, description=product.description,
                   category=product.category, price=f"{product.price:.2f}",
                   price_minor=int(product.price * 100), currency=product.currency, status=product.status,
                   created_at=product.created_at, updated_at=product.updated_at)


class ProductsPage(BaseModel):
    items: list[ProductPublic]
    next_cursor: str | None = Field(description="pass as ?cursor= to get the next page; null on the last")
