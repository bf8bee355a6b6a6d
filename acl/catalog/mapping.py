"""Data-migration mapping for the catalog: legacy PRODUCTS rows → catalog `products` rows.

Referenced from config/migrations.yaml as "acl.catalog.mapping:PRODUCTS". The row goes through the domain
(legacy row → Product → catalog record), so backfilled data obeys the same invariants as API writes.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from acl.catalog.translate import DEFAULT_TZ, product_from_row
from new_services.catalog.models import products_table
from new_services.catalog.repository import record_values
from strangler.migrate.mapping import TableMapping


def legacy_tz() -> str:
    return os.environ.get("LEGACY_TZ", DEFAULT_TZ)


def product_row_to_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """One PRODUCTS row → catalog `products` values; TranslationError for rows breaking catalog rules."""
    return record_values(product_from_row(row, legacy_tz()))


PRODUCTS = TableMapping(source_table="PRODUCTS", source_key="PROD_ID", target=products_table,
                        translate=product_row_to_record, target_key=("id",))
