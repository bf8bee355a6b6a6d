"""Flip gate: refuse `new`/`retired` while the feature writes tables its target service does not hold yet.

It refuses only on evidence: without a saved footprint, or for a feature the footprint does not map, it says
nothing (other gates, e.g. data ownership, still apply).

Evidence: the saved footprint (var/footprint/analysis.json, from `strangler analyze`) says which tables the
feature's modules write and own; var/ownership.json (from data migration) says which of those tables were
backfilled and verified in the target. Serving writes from a service whose copy of the data is missing or
unverified would fork the data, so the gate names each such table and the command that fixes it.
Foreign tables the feature writes stay with their owner and are reached through the ACL, so they do not gate.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from strangler.settings import get_settings

GATED_STATES = frozenset({"new", "retired"})


def analysis_path(var_dir: Path) -> Path:
    return var_dir / "footprint" / "analysis.json"


def footprint_gate(table: Any, feature: str, to_state: Any) -> list[str]:
    """`Gate` for flip_feature (the route table argument is not needed). Empty list = allowed."""
    return check(feature, to_state, get_settings().var_dir)


def make_footprint_gate(var_dir: Path):
    """The same gate bound to an explicit var directory (tests, non-default layouts)."""
    def gate(table: Any, feature: str, to_state: Any) -> list[str]:
        return check(feature, to_state, var_dir)
    return gate


def check(feature: str, to_state: Any, var_dir: Path) -> list[str]:
    state = str(getattr(to_state, "value", to_state)).lower()
    if state not in GATED_STATES:
        return []
    footprint_file = analysis_path(var_dir)
    analysis, problem = _load(footprint_file)
    if analysis is None and problem == "file not found":
        return []  # no footprint, no evidence: this gate refuses only on what the footprint says
    if analysis is None:
        return [f"the saved SQL footprint {footprint_file} is {problem}: re-run `strangler analyze`"]
    modules = (analysis.get("features") or {}).get(feature)
    if not modules:
        return []  # the footprint does not map this feature to a module: it says nothing about its writes
    written = _owned_writes(analysis, set(modules))
    if not written:
        return []
    ownership_file = var_dir / "ownership.json"
    ownership, problem = _load(ownership_file)
    reasons = [] if ownership is not None or problem == "file not found" else \
        [f"{ownership_file} is {problem}: fix or delete it, then re-run the data migration steps below"]
    tables = (((ownership or {}).get("features") or {}).get(feature) or {}).get("tables") or {}
    by_name = {name.lower(): info for name, info in tables.items() if isinstance(info, dict)}
    for table in written:
        info = by_name.get(table.lower()) or {}
        if not info.get("backfilled_at"):
            reasons.append(f"{feature} writes {table} but {table} has not been backfilled to the {feature} service "
                           f"(run: strangler migrate backfill {feature}, then strangler migrate verify {feature})")
        elif not info.get("verified_at"):
            reasons.append(f"{feature} writes {table} but the backfill of {table} to the {feature} service has not "
                           f"been verified (run: strangler migrate verify {feature})")
    return reasons


def _owned_writes(analysis: dict[str, Any], modules: set[str]) -> list[str]:
    """Tables the feature's modules write and own (declared or inferred) — the data that moves with it."""
    tables = analysis.get("tables") or {}
    written: set[str] = set()
    for module in modules:
        written |= set(((analysis.get("modules") or {}).get(module) or {}).get("writes") or {})
    return sorted(t for t in written if (tables.get(t) or {}).get("owner") in modules)


def _load(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None, "file not found"
    except (OSError, ValueError) as exc:
        return None, f"unreadable: {exc}"
    if not isinstance(data, dict):
        return None, "not a JSON object"
    return data, ""
