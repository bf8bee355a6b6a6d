"""Every data-migration path on SQLite and on the real PostgreSQL: interrupted backfill + resume, quarantine,
idempotent re-run, verify, change capture, forward and reverse sync without ping-pong, handover, removal."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from strangler.migrate import capture
from strangler.migrate.db import changes, checkpoints, quarantine
from strangler.migrate.engine import backfill
from strangler.migrate.feature import FeatureRuntime, open_feature
from strangler.migrate.ownership import feature_state, ownership_path, record_sync
from strangler.migrate.runner import HandoverOptions, handover, verify_feature
from strangler.migrate.sync import drain
from tests.integration.migrate.conftest import CONFIG, Databases, seed_legacy

pytestmark = pytest.mark.integration

COLUMNS = "PROD_ID, PROD_SKU, PROD_NM, PROD_DESC, CAT_CD, UNIT_PRC, ACTV_FLG, CRT_DT, UPD_DT"
POISON = f"INSERT INTO PRODUCTS ({COLUMNS}) VALUES (5000, 'bad sku', 'Poison', NULL, 'TOOLS', 1.00, 'Y', " \
         "'01/01/2024 10:00', '01/01/2024 10:00')"


class Interrupted(Exception):
    pass


def _runtime(dbs: Databases) -> FeatureRuntime:
    return open_feature(CONFIG, "catalog", dbs.var_dir)


def _sql(engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _snapshot(rt: FeatureRuntime) -> list[tuple]:
    target = rt.mappings[0].target
    with rt.target.connect() as conn:
        return [tuple(r) for r in conn.execute(select(target).order_by(target.c.id))]


def test_backfill_interrupted_resumes_quarantines_and_reruns_cleanly(dbs: Databases) -> None:
    seed_legacy(dbs.legacy_url, 120)
    rt = _runtime(dbs)
    _sql(rt.source, POISON)
    mapping = rt.mappings[0]
    batches = []

    def stop_after_three(report) -> None:
        batches.append(report.read)
        if len(batches) == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        backfill(mapping, rt.source, rt.target, batch_size=10, feature="catalog", progress=stop_after_three)
    with rt.target.connect() as conn:
        point = conn.execute(select(checkpoints)).mappings().one()
    assert (point["rows_read"], point["completed_at"]) == (30, None) and json.loads(point["last_key"]) == [30]
    assert _count(rt.target, mapping.target) == 30

    resumed = backfill(mapping, rt.source, rt.target, batch_size=10, feature="catalog")
    assert resumed.resumed_from == 30 and resumed.read_this_run == 91
    assert (resumed.read, resumed.written, resumed.failed) == (121, 120, 1)
    with rt.target.connect() as conn:
        held = conn.execute(select(quarantine)).mappings().one()
    assert (held["table_name"], json.loads(held["row_key"])) == ("PRODUCTS", [5000])
    column = "prod_sku" if dbs.backend == "postgres" else "PROD_SKU"
    assert "PROD_SKU" in held["reason"] and json.loads(held["raw_row"])[column] == "bad sku"

    ok, reports = verify_feature(rt, ownership_path(dbs.var_dir))
    assert ok and (reports[0].matched, reports[0].quarantined, reports[0].samples["quarantined"]) == (120, 1, [5000])
    assert reports[0].source_checksum == reports[0].target_checksum
    assert feature_state(ownership_path(dbs.var_dir), "catalog")["tables"]["PRODUCTS"]["verified_at"]

    before = _snapshot(rt)
    again = backfill(mapping, rt.source, rt.target, batch_size=10, feature="catalog")
    assert again.already_complete and again.read_this_run == 0
    redo = backfill(mapping, rt.source, rt.target, batch_size=50, feature="catalog", restart=True)
    assert (redo.read_this_run, redo.written) == (121, 120)
    assert _snapshot(rt) == before and _count(rt.target, quarantine) == 1

    _sql(rt.target, "UPDATE products SET name = 'tampered' WHERE id = 7", "DELETE FROM products WHERE id = 8")
    ok, reports = verify_feature(rt, ownership_path(dbs.var_dir))
    assert not ok and reports[0].samples["differing"] == [7] and reports[0].samples["missing"] == [8]
    assert reports[0].source_checksum != reports[0].target_checksum
    rt.dispose()


def test_capture_sync_both_ways_without_ping_pong(dbs: Databases) -> None:
    seed_legacy(dbs.legacy_url, 40)
    rt = _runtime(dbs)
    rt.create_target_tables()
    capture.install(rt.source, rt.capture_specs("legacy"))
    capture.install(rt.target, rt.capture_specs("service"))
    backfill(rt.mappings[0], rt.source, rt.target, batch_size=16, feature="catalog")
    assert _count(rt.target, changes) == 0  # the backfill's own writes are not captured on the service side
    owner_file = ownership_path(dbs.var_dir)

    _sql(rt.source, "UPDATE PRODUCTS SET PROD_NM = 'Renamed', UNIT_PRC = 42.10 WHERE PROD_ID = 3",
         f"INSERT INTO PRODUCTS ({COLUMNS}) VALUES (900, 'SKU-900', 'Fresh', 'new', 'TOYS', 9.99, 'Y', "
         "'02/02/2024 09:00', '02/02/2024 09:00')", POISON,
         "DELETE FROM STOCK WHERE PROD_ID = 4", "DELETE FROM PRODUCTS WHERE PROD_ID = 4")
    assert _count(rt.source, changes) == 4
    forward = drain("catalog", "forward", rt.routes("forward"), rt.source, rt.target)
    assert (forward.changes, forward.upserted, forward.deleted, forward.quarantined) == (4, 2, 1, 1)
    with rt.target.connect() as conn:
        assert conn.execute(text("SELECT name, price_minor FROM products WHERE id = 3")).one() == ("Renamed", 4210)
        assert conn.execute(text("SELECT COUNT(*) FROM products WHERE id IN (4, 5000)")).scalar() == 0
    assert _count(rt.source, changes) == 0 and _count(rt.target, changes) == 0  # consumed; no echo captured
    assert verify_feature(rt, owner_file)[0]

    routes = dbs.var_dir / "routes.yaml"
    routes.write_text((CONFIG.parent / "routes.yaml").read_text())
    record_sync(owner_file, "catalog", "forward", 0.0)  # as a running sync would
    with pytest.raises(Exception, match="quarantined"):
        handover(rt, owner_file, "service", routes, HandoverOptions(quiet_s=0))
    _sql(rt.source, "UPDATE PRODUCTS SET PROD_SKU = 'SKU-5000' WHERE PROD_ID = 5000")
    assert drain("catalog", "forward", rt.routes("forward"), rt.source, rt.target).upserted == 1
    assert _count(rt.target, quarantine) == 0  # fixed at the source → released from quarantine
    result = handover(rt, owner_file, "service", routes, HandoverOptions(quiet_s=0))
    assert result["sync_direction"] == "reverse"
    assert feature_state(owner_file, "catalog")["writes_owner"] == "service"

    _sql(rt.target, "UPDATE products SET price_minor = 1234, status = 'inactive' WHERE id = 3",
         "INSERT INTO products (sku, name, description, category, price_minor, currency, status, created_at, "
         "updated_at) VALUES ('SKU-SVC', 'Made by service', NULL, 'TOOLS', 500, 'GBP', 'active', "
         "'2024-05-01 10:00:00', '2024-05-01 10:00:00')", "DELETE FROM products WHERE id = 900")
    reverse = drain("catalog", "reverse", rt.routes("reverse"), rt.target, rt.source)
    assert (reverse.changes, reverse.upserted, reverse.deleted, reverse.quarantined) == (3, 2, 1, 0)
    with rt.source.connect() as conn:
        assert conn.execute(text("SELECT UNIT_PRC, ACTV_FLG FROM PRODUCTS WHERE PROD_ID = 3")).one()[1] == "N"
        new_id, name = conn.execute(text("SELECT PROD_ID, PROD_NM FROM PRODUCTS WHERE PROD_SKU = 'SKU-SVC'")).one()
        assert name == "Made by service" and new_id == 5001  # service ids continue after every legacy id
        assert conn.execute(text("SELECT COUNT(*) FROM PRODUCTS WHERE PROD_ID = 900")).scalar() == 0
    assert _count(rt.source, changes) == 0 and _count(rt.target, changes) == 0  # no ping-pong either way
    assert verify_feature(rt, owner_file)[0]

    capture.remove(rt.source, rt.capture_specs("legacy"))
    capture.remove(rt.target, rt.capture_specs("service"), purge=True)
    assert capture.installed(rt.source, rt.capture_specs("legacy")) == {"PRODUCTS": False}
    _sql(rt.source, "UPDATE PRODUCTS SET PROD_NM = 'Unseen' WHERE PROD_ID = 5")
    assert _count(rt.source, changes) == 0
    rt.dispose()
