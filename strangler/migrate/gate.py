"""Flip gate + `strangler status` section for data ownership (both named in one place: strangler.gates
and strangler.status.SECTIONS).

The gate refuses `new`/`retired` for a feature whose writes are still owned by legacy (the route table's
`writes_owner`; var/ownership.json's copy for a table that does not list the feature) while the forward sync
is not known to be running (no lag recorded, or the record is stale) or lags beyond the limit: serving reads
from a service whose copy is not being kept up to date would show users old data. `handover` asks the same
question of the sync it is about to turn round (`sync_problems`). Table verification is NOT checked here:
strangler.footprint.gate already refuses those states for tables the feature writes that are not backfilled
and verified, so this gate does not duplicate it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from proxy.common.clock import parse_stamp, utc_now
from proxy.table import WritesOwner
from strangler.migrate.ownership import feature_state, load, ownership_path
from strangler.settings import KitSettings, get_settings

GATED_STATES = frozenset({"new", "retired"})
STALE_ENV = "STRANGLER_SYNC_STALE_S"
DEFAULT_STALE_S = 300.0
MAX_LAG_ENV = "STRANGLER_SYNC_MAX_LAG_S"
DEFAULT_MAX_LAG_S = 30.0


def _age_s(stamp: str | None) -> float | None:
    """Seconds since a recorded stamp (old second-precision "+00:00" records read too); None when unreadable."""
    if not stamp:
        return None
    try:
        return (utc_now() - parse_stamp(stamp)).total_seconds()
    except ValueError:
        return None


def configured_limit(value: float | None, env: str, default: float) -> float:
    if value is not None:
        return value
    try:
        return float(os.environ.get(env, default))
    except ValueError:
        return default  # a typo in the environment must not disable the gate: the default still applies


def sync_problems(entry: dict[str, Any] | None, direction: str, *, stale_s: float | None = None,
                  max_lag_s: float | None = None) -> list[str]:
    """Why the `direction` sync recorded in an ownership entry is not known to be running and caught up:
    never reported, another direction, a report older than `stale_s`, or a lag beyond `max_lag_s`."""
    stale = configured_limit(stale_s, STALE_ENV, DEFAULT_STALE_S)
    max_lag = configured_limit(max_lag_s, MAX_LAG_ENV, DEFAULT_MAX_LAG_S)
    sync = (entry or {}).get("sync") or {}
    if sync.get("direction") != direction or sync.get("lag_s") is None:
        return [f"the {direction} sync lag is unknown (no report; recorded direction: "
                f"{sync.get('direction') or 'none'})"]
    age = _age_s(sync.get("updated_at"))
    if age is None or age > stale:
        return [f"the {direction} sync last reported {'never' if age is None else f'{age:.0f}s ago'} "
                f"(limit {stale:.0f}s, {STALE_ENV}): it is not running"]
    if float(sync["lag_s"]) > max_lag:
        return [f"the {direction} sync lags {float(sync['lag_s']):.1f}s behind (limit {max_lag:.0f}s, {MAX_LAG_ENV})"]
    return []


def check(feature: str, to_state: Any, var_dir: Path, stale_s: float | None = None,
          owner: str | None = None, max_lag_s: float | None = None) -> list[str]:
    """Reasons to refuse (empty = allowed). Features the data migration never touched are not gated.
    `owner` is the route table's writes owner (None: use ownership.json's)."""
    state = str(getattr(to_state, "value", to_state)).lower()
    if state not in GATED_STATES:
        return []
    entry = feature_state(ownership_path(var_dir), feature)
    if entry is None or (owner or entry.get("writes_owner")) != WritesOwner.LEGACY:
        return []
    fix = (f"run `strangler migrate sync {feature}` (or its supervised process) so legacy writes keep flowing "
           f"to the service, or hand writes over first: `strangler migrate handover {feature} --writes service`")
    return [f"{feature}: legacy still owns writes and {p}; {fix}"
            for p in sync_problems(entry, "forward", stale_s=stale_s, max_lag_s=max_lag_s)]


def ownership_gate(table: Any, feature: str, to_state: Any) -> list[str]:
    """`proxy.flips.Gate` bound to the configured var directory; the owner is the table's."""
    spec = getattr(table, "features", {}).get(feature)
    owner = str(spec.writes_owner.value) if spec is not None else None
    return check(feature, to_state, get_settings().var_dir, owner=owner)


def data_section(settings: KitSettings) -> tuple[RenderableType, dict[str, Any]]:
    """`strangler status` section "data": per feature, who owns writes, tables, and the sync."""
    path = ownership_path(settings.var_dir)
    data = load(path)
    features = data.get("features") or {}
    if not features:
        return Text(f"Data: no migration recorded yet ({path}) — run `strangler migrate backfill FEATURE`."), \
            {"ownership_file": str(path), "features": {}}
    from strangler.cli.output import Col, FitTable, short_time  # the CLI's one table that fits the screen

    table = FitTable(Col("feature", whole=True), Col("writes", whole=True), Col("table", whole=True),
                     Col("rows", justify="right", whole=True), Col("backfilled", whole=True),
                     Col("verified", whole=True), Col("sync"), Col("lag", justify="right"),
                     title=f"Data ownership ({path})")
    for name, entry in sorted(features.items()):
        sync = entry.get("sync") or {}
        lag = sync.get("lag_s")
        lag_text = "-" if lag is None else f"{lag:.1f}s"
        tables = entry.get("tables") or {"-": {}}
        for index, (tname, info) in enumerate(sorted(tables.items())):
            first = index == 0
            table.add_row(name if first else "", entry.get("writes_owner", "-") if first else "", tname,
                          str(info.get("rows", "-")), short_time(info.get("backfilled_at")),
                          Text(short_time(info["verified_at"]) if info.get("verified_at") else "no",
                               style="green" if info.get("verified_at") else "yellow"),
                          (sync.get("direction") or "off") if first else "", lag_text if first else "")
    return table, {"ownership_file": str(path), "features": features}
