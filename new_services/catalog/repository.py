"""Product persistence: domain Product ↔ `products` rows. The only place that knows the table layout."""
from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from new_services.catalog.domain import CENT, DuplicateSku, Product, ProductStatus
from new_services.catalog.models import ProductIdCounter, ProductRecord
from new_services.common.id_range import allocate_id, ensure_counter


def price_to_minor(price: Decimal) -> int:
    return int((price.quantize(CENT) * 100).to_integral_value())


def minor_to_price(minor: int) -> Decimal:
    return (Decimal(minor) / 100).quantize(CENT)


def record_values(product: Product) -> dict[str, Any]:
    """Column values for a product (used by the repository and by data migration mappings)."""
    values = {"sku": product.sku, "name": product.name, "description": product.description,
              "category": product.category, "price_minor": price_to_minor(product.price),
              "currency": product.currency, "status": product.status, "created_at": product.created_at,
              "updated_at": product.updated_at}
    if product.id is not None:
        values["id"] = product.id
    return values


_PRODUCTS = ProductRecord.__table__


def to_domain(record: Any) -> Product:
    """A ProductRecord, or a plain row of the products table (the reads select rows, not instances)."""
    return Product(id=record.id, sku=record.sku, name=record.name, description=record.description,
                   category=record.category, price=minor_to_price(record.price_minor), currency=record.currency,
                   status=ProductStatus(record.status), created_at=record.created_at,
                   updated_at=record.updated_at)


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """Search criteria shared by the native and legacy list endpoints."""

    category: str | None = None
    status: ProductStatus | None = None
    text: str | None = None          # case-insensitive substring of name or SKU
    min_price: Decimal | None = None
    max_price: Decimal | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.category:
            found.append(_PRODUCTS.c.category == self.category)
        if self.status is not None:
            found.append(_PRODUCTS.c.status == self.status)
        if self.text:
            pattern = f"%{self.text.lower()}%"
            found.append(or_(func.lower(_PRODUCTS.c.name).like(pattern),
                             func.lower(_PRODUCTS.c.sku).like(pattern)))
        if self.min_price is not None:
            # integer minor units: price >= x  <=>  minor >= ceil(100x); exact for any Decimal bound
            found.append(_PRODUCTS.c.price_minor >= math.ceil(self.min_price * 100))
        if self.max_price is not None:
            found.append(_PRODUCTS.c.price_minor <= math.floor(self.max_price * 100))
        return found


COUNTER = "products"


class ProductRepository:
    """With `id_start`, new products take ids from the service's own range (CATALOG_ID_START up)."""

    def __init__(self, session: Session, id_start: int | None = None) -> None:
        self.session = session
        self.id_start = id_start

    def get(self, product_id: int) -> Product | None:
        record = self.session.get(ProductRecord, product_id)
        return None if record is None else to_domain(record)

    def sku_owner(self, sku: str) -> int | None:
        return self.session.scalar(select(ProductRecord.id).where(ProductRecord.sku == sku))

    def add(self, product: Product) -> Product:
        if product.id is None and self.id_start is not None:
            product = product.stored_as(allocate_id(self.session, ProductIdCounter, COUNTER, ProductRecord.id,
                                                    self.id_start))
        record = ProductRecord(**record_values(product))
        self.session.add(record)
        self._flush(product.sku)
        return product.stored_as(record.id)

    def save(self, product: Product) -> Product:
        record = self.session.get(ProductRecord, product.id)
        if record is None:
            raise LookupError(f"product {product.id} vanished during the update")
        for name, value in record_values(product).items():
            setattr(record, name, value)
        self._flush(product.sku)
        return product

    # The reads select plain rows on the session's connection, not ORM instances: a page of 50 products
    # through the ORM cost more CPU than the monolith's whole answer (issue 21).
    def count(self, criteria: ProductFilter) -> int:
        query = select(func.count()).select_from(_PRODUCTS).where(*criteria.conditions())
        return self.session.connection().execute(query).scalar() or 0

    def page_by_offset(self, criteria: ProductFilter, offset: int, limit: int) -> list[Product]:
        query = (select(_PRODUCTS).where(*criteria.conditions()).order_by(_PRODUCTS.c.id)
                 .offset(offset).limit(limit))
        return [to_domain(r) for r in self.session.connection().execute(query)]

    def page_after(self, criteria: ProductFilter, after_id: int | None, limit: int) -> list[Product]:
        """Keyset page: stable under concurrent inserts, cost independent of depth."""
        conditions = criteria.conditions()
        if after_id is not None:
            conditions.append(_PRODUCTS.c.id > after_id)
        query = select(_PRODUCTS).where(*conditions).order_by(_PRODUCTS.c.id).limit(limit)
        return [to_domain(r) for r in self.session.connection().execute(query)]

    def _flush(self, sku: str) -> None:
        try:
            self.session.flush()
        except IntegrityError:
            self.session.rollback()
            raise DuplicateSku(sku) from None


def ensure_id_counter(session: Session, start: int) -> int:
    return ensure_counter(session, ProductIdCounter, COUNTER, ProductRecord.id, start)

