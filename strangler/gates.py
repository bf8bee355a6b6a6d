"""The kit's flip gates, registered in one place so `strangler flip` and the façade's admin API refuse the
same flips for the same reasons (proxy/ stays generic: it only knows the Gate protocol).

Each gate's module is imported when a flip asks it, not at start-up: every `strangler` call registers the
gates, and the data-migration gate pulls in SQLAlchemy."""
from __future__ import annotations

import importlib
from typing import Any

GATES = {
    "footprint": ("strangler.footprint.gate", "footprint_gate"),  # tables it writes are backfilled + verified
    "data-ownership": ("strangler.migrate.gate", "ownership_gate"),  # while legacy owns writes, sync runs
}


def _deferred(module: str, name: str):
    def gate(table: Any, feature: str, to_state: Any) -> list[str]:
        return getattr(importlib.import_module(module), name)(table, feature, to_state)

    gate.__qualname__ = f"{module}.{name}"
    return gate


def register_kit_gates() -> None:
    """Idempotent: registering again replaces the gate of the same name."""
    from proxy.flips import register_gate

    for gate_name, (module, name) in GATES.items():
        register_gate(gate_name, _deferred(module, name))
