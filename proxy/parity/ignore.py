"""Adding `parity.ignore` rules to a feature of the route table: one locked edit that keeps the file's comments,
validates the whole table, and leaves a ledger record saying which rules were added and by whom.

Why here and not in the CLI: it is a route-table change with an audit trail, the same whoever asks for it
(`strangler parity suggest-ignores --apply`, a script, the dashboard later).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from proxy.common.clock import stamp
from proxy.flips import FlipRecord, edit_table, feature_or_error
from proxy.ledger import append_record, default_ledger_path
from proxy.table import RouteTable, State


def add_ignore_rules(routes_path: Path, feature: str, rules: list[str], *, actor: str,
                     ledger_path: Path | None = None) -> list[str]:
    """Append `rules` missing from FEATURE's parity.ignore (comments kept, table validated, ledgered);
    returns the rules it added."""
    def mutate(table: RouteTable, doc: Any) -> dict[str, Any]:
        current = feature_or_error(table, feature, routes_path)
        new = [r for r in rules if r not in current.parity.ignore]
        if new:
            node = doc["features"][feature]
            if node.get("parity") is None:
                node["parity"] = {"ignore": []}
            parity = node["parity"]
            if parity.get("ignore") is None:
                parity["ignore"] = []
            parity["ignore"].extend(new)
        return {"added": new, "state": current.state, "percent": current.canary_percent,
                "owner": current.writes_owner.value}

    def ledger(value: dict[str, Any]) -> None:
        state: State = value["state"]
        pct = float(value["percent"]) if state is State.CANARY else None
        record = FlipRecord(ts=stamp(), actor=actor, feature=feature, from_state=state.value, to_state=state.value,
                            from_percent=pct, to_percent=pct,
                            reason=f"parity ignore rules added: {', '.join(value['added'])}",
                            evidence={"action": "parity.ignore.add", "added": value["added"]},
                            from_writes_owner=value["owner"], to_writes_owner=value["owner"])
        append_record(ledger_path or default_ledger_path(), record.to_dict())

    added: list[str] = edit_table(routes_path, mutate, after_write=ledger).value["added"]
    return added


__all__ = ["add_ignore_rules"]
