"""The catalog mapping with a misspelt key in its forward translator for one product (bug 5 of issue 15: the
description used to land as NULL and backfill reported `quarantined 0`). Used by test_translator_keys.py
through a migrations file, so the real CLI loads it as a team's own mapping module."""

import dataclasses
from typing import Any

from acl.catalog.mapping import PRODUCTS as CORRECT
from acl.catalog.mapping import product_row_to_record

TYPO_ID = 7


def typo_translator(row: Any) -> dict[str, Any]:
    values = product_row_to_record(row)
    if values["id"] == TYPO_ID:
        values["descripton"] = values.pop("description")
    return values


PRODUCTS = dataclasses.replace(CORRECT, translate=typo_translator, batch_translate=None)
