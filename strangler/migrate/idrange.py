"""Do the service's own id range and the monolith's ids stay apart? (`migrate status`, which sees both databases.)

A mapping with `service_ids` says the service hands out ids for its rows from a range starting at
`service_ids.start()`. Legacy ids at or above that start are fine only when they are the service's own rows,
copied into legacy by reverse sync; any other means the two sides hand out the same ids. Checked:
- legacy's own highest id (below the start) and the headroom left (a warning under HEADROOM of the start);
- legacy ids at or above the start: before any reverse sync ran, every one is legacy's own (error); after,
  those the service database does not hold are (error);
- PostgreSQL: legacy's serial sequence, i.e. its NEXT id, must be below the start (error otherwise).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select, text

from strangler.migrate.db import (
    MigrationError,
    find_columns,
    has_table,
    keyset_columns,
    reflect_table,
    sync_state,
)
from strangler.migrate.feature import FeatureRuntime
from strangler.migrate.mapping import TableMapping

HEADROOM = 0.1   # warn when legacy's own ids have used more than 90% of the space below the range start
SAMPLE = 5


def _legacy_next_id(engine: Engine, table: str, column: str) -> int | None:
    """PostgreSQL: the id the serial sequence hands out next (explicit inserts do not move it); else None."""
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}).scalar()
        if not sequence:
            return None
        last, called = conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
    return int(last) + 1 if called else int(last)


def _reverse_synced(engine: Engine, feature: str) -> bool:
    if not has_table(engine, sync_state.name):
        return False
    with engine.connect() as conn:
        count = conn.execute(select(sync_state.c.applied_count).where(
            sync_state.c.feature == feature, sync_state.c.direction == "reverse")).scalar()
    return bool(count)


def check_mapping(mapping: TableMapping, runtime: FeatureRuntime) -> dict[str, Any] | None:
    """The range report of one mapping (None when the service allocates no ids for it)."""
    if mapping.service_ids is None:
        return None
    setting = mapping.service_ids.setting
    try:
        start = mapping.service_ids.first_id()
    except MigrationError as exc:  # the service's setting is invalid: say so
        return {"table": mapping.source_table, "setting": setting, "range_start": None, "legacy_max": None,
                "legacy_next_id": None, "legacy_ids_in_range": [], "level": "error", "problem": str(exc)}
    report: dict[str, Any] = {"table": mapping.source_table, "setting": setting, "range_start": start,
                              "legacy_max": None, "legacy_next_id": None, "legacy_ids_in_range": [],
                              "level": "ok", "problem": None}
    legacy = reflect_table(runtime.source, mapping.source_table)
    keys = keyset_columns(legacy, mapping.source_keys)
    if len(keys) != 1:
        report.update(level="warning", problem="composite key: the id range cannot be checked")
        return report
    key = keys[0]
    target_key = find_columns(mapping.target, mapping.target_key)[0]
    with runtime.source.connect() as conn:
        own_max = conn.execute(select(func.max(key)).where(key < start)).scalar()
        in_range = [row[0] for row in conn.execute(select(key).where(key >= start).order_by(key))]
    report["legacy_max"] = own_max
    report["legacy_next_id"] = _legacy_next_id(runtime.source, legacy.name, key.name)
    if in_range and _reverse_synced(runtime.source, runtime.name):
        with runtime.target.connect() as conn:
            service = {row[0] for row in conn.execute(select(target_key).where(target_key >= start))}
        in_range = [k for k in in_range if k not in service]
    report["legacy_ids_in_range"] = in_range[:SAMPLE]
    next_id = report["legacy_next_id"]
    if in_range:
        report.update(level="error", problem=(
            f"legacy holds {len(in_range)} {mapping.source_table} id(s) of its own at or above {setting}={start} "
            f"(highest {in_range[-1]}): the service would hand out the same ids. Fix: set {setting} above "
            f"{in_range[-1]} before the service creates rows, and keep legacy's next id below it"))
    elif next_id is not None and next_id >= start:
        report.update(level="error", problem=(
            f"legacy's next {mapping.source_table} id is {next_id}, at or above {setting}={start}: its next "
            f"create collides with the service's range. Fix: setval the sequence below {start}, or raise {setting}"))
    elif own_max is not None and own_max >= start * (1 - HEADROOM):
        report.update(level="warning", problem=(
            f"legacy's highest {mapping.source_table} id {own_max} is within {HEADROOM:.0%} of {setting}={start}; "
            f"raise {setting} before they meet"))
    return report


def check_ranges(runtime: FeatureRuntime) -> list[dict[str, Any]]:
    return [r for r in (check_mapping(m, runtime) for m in runtime.mappings) if r is not None]
