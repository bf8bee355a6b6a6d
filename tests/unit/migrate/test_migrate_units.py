"""Pure pieces of the data migration: composite-key keyset, canonical values, ownership file, flip gate,
status section, CLI argument errors."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, text
from typer.testing import CliRunner

from strangler.migrate.db import open_engine
from strangler.migrate.engine import backfill
from strangler.migrate.gate import check, data_section
from strangler.migrate.mapping import TableMapping
from strangler.migrate.ownership import (
    feature_state,
    ownership_path,
    record_backfill,
    record_sync,
    record_verified,
    record_writes_owner,
)
from strangler.migrate.verify import plain, verify_table
from strangler.settings import KitSettings

LINES = Table("lines", MetaData(), Column("order_id", Integer, primary_key=True),
              Column("line_no", Integer, primary_key=True), Column("sku", String(20)))


def _line(row):
    if row["SKU"] == "BAD":
        raise ValueError("SKU: rejected")
    return {"order_id": row["ORD_ID"], "line_no": row["LN_NO"], "sku": row["SKU"]}


def test_keyset_widens_a_key_prefix_to_the_composite_primary_key(tmp_path: Path) -> None:
    source = open_engine(f"sqlite:///{tmp_path}/s.db")
    with source.begin() as conn:
        conn.execute(text("CREATE TABLE ORD_LINES (ORD_ID INTEGER, LN_NO INTEGER, SKU TEXT, "
                          "PRIMARY KEY (ORD_ID, LN_NO))"))
        conn.execute(text("INSERT INTO ORD_LINES VALUES (:o, :l, :s)"),
                     [{"o": o, "l": n, "s": "BAD" if (o, n) == (2, 2) else f"S{o}-{n}"}
                      for o in range(1, 6) for n in range(1, 4)])
    target = open_engine(f"sqlite:///{tmp_path}/t.db")
    mapping = TableMapping(source_table="ORD_LINES", source_key="ORD_ID", target=LINES, translate=_line,
                           target_key=("order_id", "line_no"))
    report = backfill(mapping, source, target, batch_size=2, feature="f")  # batches split orders' lines
    assert (report.read, report.written, report.failed) == (15, 14, 1)
    assert report.reasons[0]["key"] == [2, 2]
    result = verify_table(mapping, source, target)
    assert result.ok and result.matched == 14 and result.samples["quarantined"] == [[2, 2]]


def test_plain_makes_both_databases_values_comparable() -> None:
    aware = datetime(2024, 1, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    assert plain(aware) == plain(datetime(2024, 1, 1, 10, 0)) == "2024-01-01T10:00:00+00:00"
    assert plain(Decimal("12.50")) == plain(Decimal("12.5")) == plain(12.5) == "12.5"
    assert plain({"a": (1, Decimal("2.0"))}) == {"a": [1, "2"]}


def test_ownership_file_records_every_step(tmp_path: Path) -> None:
    path = ownership_path(tmp_path)
    record_backfill(path, "cat", {"PRODUCTS": 10})
    record_verified(path, "cat", {"PRODUCTS": 11})
    record_sync(path, "cat", "forward", 1.23456)
    entry = feature_state(path, "cat")
    assert entry["writes_owner"] == "legacy" and entry["tables"]["PRODUCTS"]["rows"] == 11
    assert entry["tables"]["PRODUCTS"]["verified_at"] and entry["sync"]["lag_s"] == 1.235
    record_writes_owner(path, "cat", "service", "reverse", 0)
    data = json.loads(path.read_text())["features"]["cat"]
    assert (data["writes_owner"], data["sync"]["direction"]) == ("service", "reverse")
    with pytest.raises(ValueError, match="legacy' or 'service"):
        record_writes_owner(path, "cat", "nobody", "reverse", 0)


def test_gate_refuses_new_while_legacy_owns_writes_without_a_live_forward_sync(tmp_path: Path) -> None:
    path = ownership_path(tmp_path)
    assert check("cat", "new", tmp_path) == []  # never migrated: not this gate's business
    record_backfill(path, "cat", {"PRODUCTS": 1})
    assert "lag is unknown" in check("cat", "new", tmp_path)[0]
    assert check("cat", "canary", tmp_path) == [] and check("cat", "shadow", tmp_path) == []
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    record_sync(path, "cat", "forward", 0.5, when=old)
    assert "last reported" in check("cat", "retired", tmp_path, stale_s=60)[0]
    record_sync(path, "cat", "forward", 0.5)
    assert check("cat", "new", tmp_path, stale_s=60) == []
    record_writes_owner(path, "cat", "service", "reverse", None)
    assert check("cat", "new", tmp_path) == []


def test_status_section_lists_features(tmp_path: Path) -> None:
    settings = KitSettings(var_dir=tmp_path)
    _, empty = data_section(settings)
    assert empty["features"] == {}
    record_backfill(ownership_path(tmp_path), "cat", {"PRODUCTS": 3})
    _, data = data_section(settings)
    assert data["features"]["cat"]["tables"]["PRODUCTS"]["rows"] == 3


def test_cli_rejects_bad_arguments_clearly(tmp_path: Path) -> None:
    from strangler.cli import migrate  # noqa: F401 - registers `migrate`
    from strangler.cli.app import app

    config = Path(__file__).resolve().parents[3] / "config" / "migrations.yaml"
    runner = CliRunner()
    bad = runner.invoke(app, ["migrate", "sync", "catalog", "--direction", "sideways", "--config", str(config)])
    assert bad.exit_code == 2 and "forward or reverse" in bad.output
    unknown = runner.invoke(app, ["migrate", "verify", "nope", "--config", str(config)])
    assert unknown.exit_code == 2 and "known: catalog" in unknown.output
    missing = runner.invoke(app, ["migrate", "status", "--config", str(tmp_path / "none.yaml")])
    assert missing.exit_code == 2 and "not found" in missing.output
