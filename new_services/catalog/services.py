"""Catalog use cases, shared by the native and the legacy-compatible routers.

Why a service layer: both APIs must apply the same rules (unique SKU, invariants, timestamps) so that a
write through the legacy endpoint and one through /v2 leave identical state.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from new_services.catalog.domain import (
    DuplicateSku,
    Product,
    ProductNotFound,
    ProductStatus,
)
from new_services.catalog.repository import ProductRepository


def get_product(repo: ProductRepository, product_id: int) -> Product:
    product = repo.get(product_id)
    if product is None:
        raise ProductNotFound(product_id)
    return product


def create_product(repo: ProductRepository, *, sku: str, name: str, category: str, price: Decimal,
                   description: str | None = None, status: ProductStatus = ProductStatus.ACTIVE,
                   currency: str = "GBP", now: datetime | None = None) -> Product:
    product = Product.create(sku=sku, name=name, category=category, price=price, description=description,
                             status=status, currency=currency, now=now)
    if repo.sku_owner(sku) is not None:
        raise DuplicateSku(sku)
    stored = repo.add(product)
    repo.session.commit()
    return stored


def update_product(repo: ProductRepository, product_id: int, changes: dict[str, Any],
                   now: datetime | None = None) -> Product:
    current = get_product(repo, product_id)
    revised = current.revise(now, **changes)
    if revised.sku != current.sku and repo.sku_owner(revised.sku) not in (None, product_id):
        raise DuplicateSku(revised.sku)
    repo.save(revised)
    repo.session.commit()
    return revised


def deactivate_product(repo: ProductRepository, product_id: int, now: datetime | None = None) -> Product:
    """Idempotent: deactivating an inactive product changes nothing (not even updated_at)."""
    current = get_product(repo, product_id)
    if not current.is_active:
        return current
    revised = current.deactivate(now)
    repo.save(revised)
    repo.session.commit()
    return revised
