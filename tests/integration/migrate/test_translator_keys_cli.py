"""Bug 5 of issue 15 with real processes: a team's mapping module (typo_mapping.py) misspells a key for one
product. `strangler migrate backfill` used to write a NULL description and report `quarantined 0`; now the row is
quarantined naming the key, and backfill, verify, status and the forward sync all count it the same way — on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text

from strangler.migrate.db import quarantine
from strangler.migrate.feature import FeatureRuntime, open_feature
from tests.integration.migrate.conftest import CONFIG, Databases, dbs, seed_legacy, strangler  # noqa: F401 - dbs
from tests.integration.migrate.typo_mapping import TYPO_ID

pytestmark = pytest.mark.integration


def _held(rt: FeatureRuntime) -> dict[int, str]:
    with rt.target.connect() as conn:
        return {json.loads(k)[0]: r for k, r in conn.execute(select(quarantine.c.row_key, quarantine.c.reason))}


def _count(rt: FeatureRuntime, where: str) -> int:
    with rt.target.connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM products WHERE {where}")).scalar() or 0)


def test_cli_backfill_and_sync_quarantine_a_misspelt_key_and_every_count_agrees(
    dbs: Databases,  # noqa: F811 - the backend-parametrised fixture
    tmp_path: Path,
) -> None:
    seed_legacy(dbs.legacy_url, 12)
    config = tmp_path / "typo_migrations.yaml"
    mapping = "tests.integration.migrate.typo_mapping:PRODUCTS"
    config.write_text(CONFIG.read_text().replace("acl.catalog.mapping:PRODUCTS", mapping))
    env = {**dbs.env, "STRANGLER_MIGRATIONS_FILE": str(config)}

    shown = " ".join(strangler("migrate", "backfill", "catalog", env=env).stdout.split())
    assert f"key {TYPO_ID}:" in shown and "'descripton'" in shown, shown
    assert "1 row(s) of PRODUCTS quarantined" in shown, shown
    [again] = json.loads(strangler("migrate", "backfill", "catalog", "--json", env=env).stdout)["tables"]
    assert again["quarantined"] == 1, again  # already complete: still counted from the quarantine table
    rt = open_feature(config, "catalog", dbs.var_dir)
    try:
        reason = _held(rt)[TYPO_ID]
        assert "'descripton'" in reason and "did you mean 'description'" in reason and "\n" not in reason
        assert _count(rt, f"id = {TYPO_ID}") == 0 and _count(rt, "1 = 1") == 11  # nothing of it, all the rest
        [verified] = json.loads(strangler("migrate", "verify", "catalog", "--json", env=env).stdout)["tables"]
        assert (verified["quarantined"], verified["missing"], verified["differing"]) == (1, 0, 0), verified
        status = json.loads(strangler("migrate", "status", "catalog", "--json", env=env).stdout)
        assert status["features"][0]["quarantined"] == {"forward": 1, "reverse": 0}

        # the forward sync applies the same check: the other row's change lands, the misspelt one stays held
        strangler("migrate", "capture", "install", "catalog", env=env)
        with rt.source.begin() as conn:
            conn.execute(text(f"UPDATE PRODUCTS SET PROD_NM = 'Renamed' WHERE PROD_ID IN ({TYPO_ID}, 8)"))
        strangler("migrate", "sync", "catalog", "--once", "--direction", "forward", env=env)
        assert _count(rt, "id = 8 AND name = 'Renamed'") == 1 and _count(rt, f"id = {TYPO_ID}") == 0
        assert list(_held(rt)) == [TYPO_ID] and "'descripton'" in _held(rt)[TYPO_ID]
        status = json.loads(strangler("migrate", "status", "catalog", "--json", env=env).stdout)
        assert status["features"][0]["quarantined"] == {"forward": 1, "reverse": 0}
    finally:
        rt.dispose()
