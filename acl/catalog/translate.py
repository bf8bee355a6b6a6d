"""Pure translators between the legacy catalog (PRODUCTS row, legacy Product JSON) and the domain Product.

Why pure functions: they are used by the backfill (rows), the legacy-compatible endpoints (JSON) and the
tests alike, and must be exact inverses for every valid legacy record. Legacy data that breaks a domain
rule becomes a TranslationError (legacy field name, value, reason) — never a crash, never a silent fix.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acl.common.conventions import (
    bool_to_flag,
    decimal_to_legacy_money,
    flag_to_bool,
    legacy_money_to_decimal,
    legacy_ts_to_utc,
    require_int,
    require_text,
    utc_to_legacy_ts,
)
from acl.common.errors import TranslationError
from new_services.catalog.domain import DomainError, Product, ProductStatus

DEFAULT_TZ = "Europe/London"
LEGACY_CURRENCY = "GBP"

#: domain field → legacy column (rows) and legacy JSON key (DTOs), used to name errors in legacy terms.
ROW_FIELDS = {"id": "PROD_ID", "sku": "PROD_SKU", "name": "PROD_NM", "description": "PROD_DESC",
              "category": "CAT_CD", "price": "UNIT_PRC", "status": "ACTV_FLG", "created_at": "CRT_DT",
              "updated_at": "UPD_DT", "currency": "UNIT_PRC"}
JSON_FIELDS = {"id": "ProductId", "sku": "Sku", "name": "Name", "description": "Description",
               "category": "Category", "price": "UnitPrice", "status": "Active", "created_at": "Created",
               "updated_at": "Updated", "currency": "UnitPrice"}


def status_from_flag(value: Any, field: str) -> ProductStatus:
    return ProductStatus.ACTIVE if flag_to_bool(value, field) else ProductStatus.INACTIVE


def flag_from_status(status: ProductStatus) -> str:
    return bool_to_flag(status is ProductStatus.ACTIVE)


def _build(values: Mapping[str, Any], names: Mapping[str, str], raw: Mapping[str, Any]) -> Product:
    try:
        return Product(**values)
    except DomainError as exc:
        legacy_name = names.get(exc.field, exc.field)
        raise TranslationError(legacy_name, raw.get(legacy_name, exc.value), exc.reason) from None


def _get(source: Mapping[str, Any], key: str) -> Any:
    try:
        return source[key]
    except KeyError:
        raise TranslationError(key, None, "missing") from None


def _to_legacy_checks(product: Product, names: Mapping[str, str]) -> None:
    if product.currency != LEGACY_CURRENCY:
        raise TranslationError(names["currency"], product.currency,
                               f"legacy prices carry no currency and are always {LEGACY_CURRENCY}")
    if product.id is None:
        raise TranslationError(names["id"], None, "an unsaved product has no legacy id")


# --- rows (backfill, sync) ----------------------------------------------------------------------------------

def product_from_row(row: Mapping[str, Any], tz: str = DEFAULT_TZ) -> Product:
    """A PRODUCTS row (column → value) → domain Product.

    Fast path (backfills translate millions of rows): when every column is present and the simple ones have
    exactly the expected built-in types, they are taken as they are; the money and time conversions then run
    in the reference order. Anything else goes through `_product_from_row_checked`, so the result — and the
    first error, in legacy terms — is the same either way.
    """
    try:
        product_id, sku, name, description = row["PROD_ID"], row["PROD_SKU"], row["PROD_NM"], row["PROD_DESC"]
        category, price, flag = row["CAT_CD"], row["UNIT_PRC"], row["ACTV_FLG"]
        created, updated = row["CRT_DT"], row["UPD_DT"]
    except KeyError:
        return _product_from_row_checked(row, tz)
    if not (type(product_id) is int and type(sku) is str and type(name) is str and type(category) is str
            and (description is None or type(description) is str) and type(flag) is str and flag in _STATUS):
        return _product_from_row_checked(row, tz)
    values = {
        "id": product_id, "sku": sku, "name": name, "description": description, "category": category,
        "price": legacy_money_to_decimal(price, "UNIT_PRC"),
        "status": _STATUS[flag],
        "created_at": legacy_ts_to_utc(created, tz, "CRT_DT"),
        "updated_at": legacy_ts_to_utc(updated, tz, "UPD_DT"),
        "currency": LEGACY_CURRENCY,
    }
    return _build(values, ROW_FIELDS, row)


_STATUS = {"Y": ProductStatus.ACTIVE, "N": ProductStatus.INACTIVE}


def _product_from_row_checked(row: Mapping[str, Any], tz: str) -> Product:
    """The reference translation: every column fetched and checked in order, errors named in legacy terms."""
    values = {
        "id": require_int(_get(row, "PROD_ID"), "PROD_ID"),
        "sku": require_text(_get(row, "PROD_SKU"), "PROD_SKU"),
        "name": require_text(_get(row, "PROD_NM"), "PROD_NM"),
        "description": require_text(_get(row, "PROD_DESC"), "PROD_DESC", nullable=True),
        "category": require_text(_get(row, "CAT_CD"), "CAT_CD"),
        "price": legacy_money_to_decimal(_get(row, "UNIT_PRC"), "UNIT_PRC"),
        "status": status_from_flag(_get(row, "ACTV_FLG"), "ACTV_FLG"),
        "created_at": legacy_ts_to_utc(_get(row, "CRT_DT"), tz, "CRT_DT"),
        "updated_at": legacy_ts_to_utc(_get(row, "UPD_DT"), tz, "UPD_DT"),
        "currency": LEGACY_CURRENCY,
    }
    return _build(values, ROW_FIELDS, row)


def product_to_row(product: Product, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Domain Product → PRODUCTS row values (UNIT_PRC as a 2-place Decimal, as the column holds it)."""
    _to_legacy_checks(product, ROW_FIELDS)
    return {
        "PROD_ID": product.id, "PROD_SKU": product.sku, "PROD_NM": product.name,
        "PROD_DESC": product.description, "CAT_CD": product.category,
        "UNIT_PRC": legacy_money_to_decimal(product.price, "UNIT_PRC"),
        "ACTV_FLG": flag_from_status(product.status),
        "CRT_DT": utc_to_legacy_ts(product.created_at, tz, "CRT_DT"),
        "UPD_DT": utc_to_legacy_ts(product.updated_at, tz, "UPD_DT"),
    }


# --- legacy JSON DTOs (legacy-compatible API, legacy client) -----------------------------------------------

def product_from_json(dto: Mapping[str, Any], tz: str = DEFAULT_TZ) -> Product:
    """Legacy Product JSON → domain Product. Tolerant reader: 'Available' and unknown keys are ignored."""
    if not isinstance(dto, Mapping):
        raise TranslationError("Product", dto, "expected a JSON object")
    values = {
        "id": require_int(_get(dto, "ProductId"), "ProductId"),
        "sku": require_text(_get(dto, "Sku"), "Sku"),
        "name": require_text(_get(dto, "Name"), "Name"),
        "description": require_text(dto.get("Description"), "Description", nullable=True),
        "category": require_text(_get(dto, "Category"), "Category"),
        "price": _json_price(_get(dto, "UnitPrice")),
        "status": status_from_flag(_get(dto, "Active"), "Active"),
        "created_at": legacy_ts_to_utc(_get(dto, "Created"), tz, "Created"),
        "updated_at": legacy_ts_to_utc(_get(dto, "Updated"), tz, "Updated"),
        "currency": LEGACY_CURRENCY,
    }
    return _build(values, JSON_FIELDS, dto)


def _json_price(value: Any) -> Any:
    if not isinstance(value, str):
        raise TranslationError("UnitPrice", value, "legacy JSON serves prices as decimal strings such as '12.50'")
    return legacy_money_to_decimal(value, "UnitPrice")


def product_to_json(product: Product, available: int, tz: str = DEFAULT_TZ) -> dict[str, Any]:
    """Domain Product + availability → legacy Product JSON (key order as legacy serves it)."""
    _to_legacy_checks(product, JSON_FIELDS)
    return {
        "ProductId": product.id,
        "Sku": product.sku,
        "Name": product.name,
        "Description": product.description,
        "Category": product.category,
        "UnitPrice": decimal_to_legacy_money(product.price),
        "Active": flag_from_status(product.status),
        "Created": utc_to_legacy_ts(product.created_at, tz, "Created"),
        "Updated": utc_to_legacy_ts(product.updated_at, tz, "Updated"),
        "Available": available,
    }
