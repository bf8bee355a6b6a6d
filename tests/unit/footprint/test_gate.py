"""Flip gate with real files: a saved footprint plus var/ownership.json in tmp_path."""
import json

import pytest

from strangler.footprint.analysis import analyse_capture
from strangler.footprint.config import FootprintConfig
from strangler.footprint.gate import analysis_path, footprint_gate, make_footprint_gate
from strangler.footprint.readers import Capture


@pytest.fixture
def var_dir(tmp_path):
    cap = Capture()
    cap.add("UPDATE PRODUCTS SET PROD_NM = 'x' WHERE PROD_ID = 1", "catalog", "catalog.put", "PUT")
    cap.add("INSERT INTO PRODUCT_TAGS (PROD_ID, TAG) VALUES (1, 'x')", "catalog", "catalog.put", "PUT")
    cap.add("SELECT SUM(QTY) FROM STOCK WHERE PROD_ID = 1", "catalog", "catalog.get", "GET")
    cap.add("UPDATE STOCK SET QTY = QTY - 1", "inventory", "inventory.adjust", "POST")
    cap.add("SELECT NM FROM PRODUCTS", "reports", "reports.get", "GET")
    analysis = analyse_capture(cap, FootprintConfig(features={"catalog": ["catalog"], "reporting": ["reports"]}))
    path = analysis_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(analysis))
    return tmp_path


def write_ownership(var_dir, tables):
    (var_dir / "ownership.json").write_text(json.dumps({"features": {"catalog": {
        "writes_owner": "legacy", "tables": tables, "sync": {"direction": None, "lag_s": None, "updated_at": None}}}}))


def test_no_saved_footprint_is_no_evidence(tmp_path):
    assert make_footprint_gate(tmp_path)(None, "catalog", "new") == []


def test_unreadable_saved_footprint_refuses(tmp_path):
    (tmp_path / "footprint").mkdir()
    (tmp_path / "footprint" / "analysis.json").write_text("{not json")
    reasons = make_footprint_gate(tmp_path)(None, "catalog", "new")
    assert len(reasons) == 1 and "re-run `strangler analyze`" in reasons[0]


def test_other_states_are_never_gated(var_dir):
    gate = make_footprint_gate(var_dir)
    assert gate(None, "catalog", "shadow") == [] and gate(None, "catalog", "canary") == []


def test_not_backfilled_and_not_verified(var_dir):
    write_ownership(var_dir, {"PRODUCTS": {"backfilled_at": "2024-05-02T10:00:00Z", "verified_at": None, "rows": 9}})
    reasons = make_footprint_gate(var_dir)(None, "catalog", "retired")
    assert reasons == [
        ("catalog writes PRODUCTS but the backfill of PRODUCTS to the catalog service has not been verified "
         "(run: strangler migrate verify catalog)"),
        ("catalog writes PRODUCT_TAGS but PRODUCT_TAGS has not been backfilled to the catalog service "
         "(run: strangler migrate backfill catalog, then strangler migrate verify catalog)"),
    ]  # STOCK is only read, and belongs to inventory: it does not gate


def test_allowed_when_every_written_table_is_verified(var_dir):
    done = {"backfilled_at": "2024-05-02T10:00:00Z", "verified_at": "2024-05-02T10:05:00Z", "rows": 9}
    write_ownership(var_dir, {"products": done, "PRODUCT_TAGS": done})
    assert make_footprint_gate(var_dir)(None, "catalog", "new") == []


def test_missing_ownership_file_and_unknown_feature(var_dir):
    gate = make_footprint_gate(var_dir)
    assert len(gate(None, "catalog", "new")) == 2
    assert gate(None, "billing", "new") == []  # not mapped by the footprint: no evidence either way
    assert gate(None, "reporting", "new") == []  # writes nothing: nothing to move


def test_default_gate_uses_settings_var_dir(var_dir, monkeypatch):
    monkeypatch.setenv("STRANGLER_VAR_DIR", str(var_dir))
    assert len(footprint_gate(object(), "catalog", "new")) == 2


def test_corrupt_ownership_file_is_named(var_dir):
    (var_dir / "ownership.json").write_text("{not json")
    reasons = make_footprint_gate(var_dir)(None, "catalog", "new")
    assert "ownership.json is unreadable" in reasons[0] and len(reasons) == 3
