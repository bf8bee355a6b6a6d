"""Data-migration mapping for the catalog: legacy PRODUCTS rows ↔ catalog `products` rows.

Referenced from config/migrations.yaml as "acl.catalog.mapping:PRODUCTS". Every direction goes through the
domain Product, so migrated data obeys the same invariants as API writes:
- forward (backfill, forward sync): PRODUCTS row → Product → `products` values;
- reverse (service owns writes): `products` row → Product → PRODUCTS values, so monolith modules that still
  read PRODUCTS (orders reads price and active flag) keep working;
- verify: either row → Product as a plain dict (the canonical domain form both sides must agree on).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from acl.catalog.translate import product_from_row, product_to_row
from new_services.catalog.domain import DomainError, Product, ProductStatus
from new_services.catalog.models import products_table
from new_services.catalog.repository import minor_to_price, record_values
from new_services.catalog.settings import ID_START_ENV, get_catalog_id_start
from new_services.common.settings import legacy_tz
from strangler.migrate.mapping import IdRange, TableMapping


def product_row_to_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One PRODUCTS row → catalog `products` values; TranslationError for rows breaking catalog rules."""
    return record_values(product_from_row(row, legacy_tz()))


def product_row_translator() -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """`product_row_to_record` with LEGACY_TZ read once (the backfill asks for one per batch)."""
    tz = legacy_tz()

    def translate(row: Mapping[str, Any]) -> dict[str, Any]:
        return record_values(product_from_row(row, tz))
    return translate


def product_from_record(row: Mapping[str, Any]) -> Product:
    """A `products` row (as read from the service database) → domain Product (ValueError if it breaks a rule)."""
    try:
        return Product(id=row["id"], sku=row["sku"], name=row["name"], description=row["description"],
                       category=row["category"], price=minor_to_price(row["price_minor"]),
                       currency=row["currency"], status=ProductStatus(row["status"]),
                       created_at=row["created_at"], updated_at=row["updated_at"])
    except DomainError as exc:
        raise ValueError(f"products.{exc.field}={exc.value!r}: {exc.reason}") from None


def record_to_product_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """One `products` row → PRODUCTS values (reverse sync); TranslationError if legacy cannot hold it."""
    return product_to_row(product_from_record(row), legacy_tz())


def _domain_dict(product: Product) -> dict[str, Any]:
    return dataclasses.asdict(product)


def legacy_domain(row: Mapping[str, Any]) -> dict[str, Any]:
    return _domain_dict(product_from_row(row, legacy_tz()))


def service_domain(row: Mapping[str, Any]) -> dict[str, Any]:
    """The service row as legacy can hold it: PRODUCTS keeps times to the minute (CRT_DT/UPD_DT), so a row the
    service wrote at 18:22:50.028 reaches legacy through reverse sync as 18:22 — equal, not a difference."""
    product = product_from_record(row)
    return _domain_dict(dataclasses.replace(product, created_at=_to_minute(product.created_at),
                                            updated_at=_to_minute(product.updated_at)))


def _to_minute(value: Any) -> Any:
    return value.replace(second=0, microsecond=0) if value is not None else None


PRODUCTS = TableMapping(source_table="PRODUCTS", source_key="PROD_ID", target=products_table,
                        translate=product_row_to_record, target_key=("id",), to_source=record_to_product_row,
                        source_domain=legacy_domain, target_domain=service_domain,
                        batch_translate=product_row_translator,
                        service_ids=IdRange(start=get_catalog_id_start, setting=ID_START_ENV))
