"""A translator's mistakes quarantine the row with a one-line reason, never a silent NULL or a traceback, and
backfill, verify and `migrate status` count quarantined rows the same way — on SQLite and PostgreSQL."""
from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import pytest
from sqlalchemy import select, text

from acl.catalog.mapping import PRODUCTS, product_row_to_record, record_to_product_row
from strangler.migrate import capture
from strangler.migrate.db import quarantine
from strangler.migrate.engine import backfill
from strangler.migrate.feature import FeatureRuntime, open_feature
from strangler.migrate.ownership import ownership_path
from strangler.migrate.runner import verify_feature
from strangler.migrate.sync import drain
from tests.integration.migrate.conftest import CONFIG, Databases, seed_legacy, strangler

pytestmark = pytest.mark.integration

TYPO_ID, MISSING_ID = 7, 9


def typo_translator(row: Mapping[str, Any]) -> dict[str, Any]:
    """Product 7's description goes under a misspelt key (the bug of issue 15: it used to land as NULL)."""
    values = product_row_to_record(row)
    if values["id"] == TYPO_ID:
        values["descripton"] = values.pop("description")
    return values


def missing_column_translator(row: Mapping[str, Any]) -> dict[str, Any]:
    """Reads a column PRODUCTS does not have, for one product only."""
    values = product_row_to_record(row)
    if values["id"] == MISSING_ID:
        values["description"] = row["PROD_DSC"]
    return values


def typo_to_source(row: Mapping[str, Any]) -> dict[str, Any]:
    """Reverse translator writing the name under a misspelt legacy column."""
    values = record_to_product_row(row)
    values["PROD_NMX"] = values.pop("PROD_NM")
    return values


def _runtime(dbs: Databases, translate=product_row_to_record, to_source=record_to_product_row) -> FeatureRuntime:
    runtime = open_feature(CONFIG, "catalog", dbs.var_dir)
    runtime.mappings = [dataclasses.replace(PRODUCTS, translate=translate, to_source=to_source,
                                            batch_translate=None)]
    return runtime


def _held(rt: FeatureRuntime) -> dict[int, str]:
    with rt.target.connect() as conn:
        return {json.loads(k)[0]: r for k, r in conn.execute(select(quarantine.c.row_key, quarantine.c.reason))}


def test_unknown_key_quarantines_the_row_and_all_counts_agree(dbs: Databases) -> None:
    seed_legacy(dbs.legacy_url, 30)
    rt = _runtime(dbs, typo_translator)
    report = backfill(rt.mappings[0], rt.source, rt.target, batch_size=8, feature="catalog")
    assert (report.read, report.written, report.quarantined) == (30, 29, 1)
    reason = _held(rt)[TYPO_ID]
    assert "'descripton'" in reason and "did you mean 'description'" in reason and "\n" not in reason
    assert report.reasons == [{"key": TYPO_ID, "field": None, "reason": reason}]
    with rt.source.connect() as conn:
        nulls = conn.execute(text(f"SELECT COUNT(*) FROM PRODUCTS WHERE PROD_DESC IS NULL AND PROD_ID <> {TYPO_ID}"
                                  )).scalar()
    with rt.target.connect() as conn:  # nothing written for it, and no description was lost elsewhere
        assert conn.execute(text(f"SELECT COUNT(*) FROM products WHERE id = {TYPO_ID}")).scalar() == 0
        assert conn.execute(text("SELECT COUNT(*) FROM products WHERE description IS NULL")).scalar() == nulls

    ok, [verified] = verify_feature(rt, ownership_path(dbs.var_dir))
    assert (verified.quarantined, verified.missing, verified.samples["quarantined"]) == (1, 0, [TYPO_ID])
    assert ok and verified.reasons == [{"key": TYPO_ID, "reason": reason}]
    status = json.loads(strangler("migrate", "status", "catalog", "--json", env=dbs.env).stdout)
    assert status["features"][0]["quarantined"] == {"forward": 1, "reverse": 0}

    # forward sync: the same check, the same quarantine; fixed translator → the row lands and is released
    capture.install(rt.source, rt.capture_specs("legacy"))
    with rt.source.begin() as conn:
        conn.execute(text(f"UPDATE PRODUCTS SET PROD_NM = 'Renamed' WHERE PROD_ID IN ({TYPO_ID}, 8)"))
    applied = drain("catalog", "forward", rt.routes("forward"), rt.source, rt.target)
    assert (applied.upserted, applied.quarantined) == (1, 1) and "'descripton'" in applied.reasons[0]
    fixed = open_feature(CONFIG, "catalog", dbs.var_dir)
    with rt.source.begin() as conn:
        conn.execute(text(f"UPDATE PRODUCTS SET PROD_NM = 'Again' WHERE PROD_ID = {TYPO_ID}"))
    assert drain("catalog", "forward", fixed.routes("forward"), fixed.source, fixed.target).upserted == 1
    assert _held(rt) == {}
    fixed.dispose()
    rt.dispose()


def test_translator_reading_a_missing_column_gives_a_one_line_reason(dbs: Databases) -> None:
    seed_legacy(dbs.legacy_url, 12)
    rt = _runtime(dbs, missing_column_translator)
    report = backfill(rt.mappings[0], rt.source, rt.target, batch_size=5, feature="catalog")
    assert (report.written, report.quarantined) == (11, 1)
    reason = _held(rt)[MISSING_ID]
    assert reason.startswith("translator reads column 'PROD_DSC', which the source row does not have")
    assert "did you mean 'prod_desc'" in reason.lower() and "\n" not in reason
    rt.dispose()


def test_reverse_sync_quarantines_an_unknown_legacy_column_in_legacy(dbs: Databases) -> None:
    seed_legacy(dbs.legacy_url, 6)
    rt = _runtime(dbs, to_source=typo_to_source)
    backfill(rt.mappings[0], rt.source, rt.target, feature="catalog")
    capture.install(rt.target, rt.capture_specs("service"))
    with rt.target.begin() as conn:
        conn.execute(text("UPDATE products SET name = 'Service rename' WHERE id = 3"))
    applied = drain("catalog", "reverse", rt.routes("reverse"), rt.target, rt.source)
    assert (applied.upserted, applied.quarantined) == (0, 1)
    with rt.source.connect() as conn:
        [(key, reason)] = conn.execute(select(quarantine.c.row_key, quarantine.c.reason)).all()
        assert conn.execute(text("SELECT PROD_NM FROM PRODUCTS WHERE PROD_ID = 3")).scalar() != "Service rename"
    assert json.loads(key) == [3] and "'PROD_NMX'" in reason and "did you mean 'prod_nm'" in reason.lower()
    status = json.loads(strangler("migrate", "status", "catalog", "--json", env=dbs.env).stdout)
    assert status["features"][0]["quarantined"] == {"forward": 0, "reverse": 1}
    rt.dispose()


def test_cli_reasons_are_readable_and_counted_alike(dbs: Databases) -> None:
    seed_legacy(dbs.legacy_url, 10)
    with open_feature(CONFIG, "catalog", dbs.var_dir).source.begin() as conn:
        conn.execute(text("UPDATE PRODUCTS SET PROD_SKU = 'bad sku' WHERE PROD_ID = 4"))
    done = strangler("migrate", "backfill", "catalog", env=dbs.env)
    assert "key 4: PROD_SKU='bad sku':" in done.stdout and "None=None" not in done.stdout
    assert "1 row(s) of PRODUCTS quarantined" in done.stdout
    backfilled = json.loads(strangler("migrate", "backfill", "catalog", "--json", env=dbs.env).stdout)
    assert backfilled["tables"][0]["quarantined"] == 1  # already complete: still counted from the table
    verified = json.loads(strangler("migrate", "verify", "catalog", "--json", env=dbs.env).stdout)
    assert (verified["tables"][0]["quarantined"], verified["tables"][0]["missing"]) == (1, 0)
    status = strangler("migrate", "status", "catalog", env=dbs.env).stdout
    assert "quarantined" in status and "forward/reverse" in status and "1/0" in status
