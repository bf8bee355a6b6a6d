"""Flip gate + `strangler status` section for data ownership (both read var/ownership.json only).

The gate refuses `new`/`retired` for a feature whose writes are still owned by legacy while the forward sync
is not known to be running (no lag recorded, or the record is stale): serving reads from a service whose copy
is not being kept up to date would show users old data. Table verification is NOT checked here:
strangler.footprint.gate already refuses those states for tables the feature writes that are not backfilled
and verified, so this gate does not duplicate it.
"""
from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from strangler.migrate.ownership import feature_state, load, ownership_path
from strangler.settings import KitSettings, get_settings

GATED_STATES = frozenset({"new", "retired"})
STALE_ENV = "STRANGLER_SYNC_STALE_S"
DEFAULT_STALE_S = 300.0


def _age_s(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def check(feature: str, to_state: Any, var_dir: Path, stale_s: float | None = None) -> list[str]:
    """Reasons to refuse (empty = allowed). Features the data migration never touched are not gated."""
    state = str(getattr(to_state, "value", to_state)).lower()
    if state not in GATED_STATES:
        return []
    entry = feature_state(ownership_path(var_dir), feature)
    if entry is None or entry.get("writes_owner") != "legacy":
        return []
    limit = stale_s if stale_s is not None else float(os.environ.get(STALE_ENV, DEFAULT_STALE_S))
    sync = entry.get("sync") or {}
    fix = (f"run `strangler migrate sync {feature}` (or its supervised process) so legacy writes keep flowing "
           f"to the service, or hand writes over first: `strangler migrate handover {feature} --writes service`")
    if sync.get("direction") != "forward" or sync.get("lag_s") is None:
        return [f"{feature}: legacy still owns writes and the forward sync lag is unknown; {fix}"]
    age = _age_s(sync.get("updated_at"))
    if age is None or age > limit:
        return [f"{feature}: legacy still owns writes and the forward sync last reported "
                f"{'never' if age is None else f'{age:.0f}s ago'} (limit {limit:.0f}s, {STALE_ENV}); {fix}"]
    return []


def ownership_gate(table: Any, feature: str, to_state: Any) -> list[str]:
    """`proxy.flips.Gate` bound to the configured var directory."""
    return check(feature, to_state, get_settings().var_dir)


def data_section(settings: KitSettings) -> tuple[RenderableType, dict[str, Any]]:
    """`strangler status` section "data": per feature, who owns writes, tables, and the sync."""
    path = ownership_path(settings.var_dir)
    data = load(path)
    features = data.get("features") or {}
    if not features:
        return Text(f"Data: no migration recorded yet ({path}) — run `strangler migrate backfill FEATURE`."), \
            {"ownership_file": str(path), "features": {}}
    table = Table(title=f"Data ownership ({path})")
    for column in ("feature", "writes", "table", "rows", "backfilled", "verified", "sync", "lag"):
        table.add_column(column, no_wrap=True)
    for name, entry in sorted(features.items()):
        sync = entry.get("sync") or {}
        lag = sync.get("lag_s")
        lag_text = "-" if lag is None else f"{lag:.1f}s"
        tables = entry.get("tables") or {"-": {}}
        for index, (tname, info) in enumerate(sorted(tables.items())):
            first = index == 0
            table.add_row(name if first else "", entry.get("writes_owner", "-") if first else "", tname,
                          str(info.get("rows", "-")), (info.get("backfilled_at") or "-")[:19],
                          Text((info.get("verified_at") or "no")[:19],
                               style="green" if info.get("verified_at") else "yellow"),
                          (sync.get("direction") or "off") if first else "", lag_text if first else "")
    return table, {"ownership_file": str(path), "features": features}


def register_status_section() -> None:
    """The "data" section of `strangler status` (the gate itself is registered by strangler.gates)."""
    from strangler.status import register_section

    register_section("data", data_section)
