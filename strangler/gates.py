"""The kit's flip gates, registered in one place so `strangler flip` and the façade's admin API refuse the
same flips for the same reasons (proxy/ stays generic: it only knows the Gate protocol)."""
from __future__ import annotations


def register_kit_gates() -> None:
    """Idempotent: registering again replaces the gate of the same name."""
    from proxy.flips import register_gate
    from strangler.footprint.gate import footprint_gate
    from strangler.migrate.gate import ownership_gate

    register_gate("footprint", footprint_gate)  # tables the feature writes are backfilled and verified
    register_gate("data-ownership", ownership_gate)  # while legacy owns writes, the forward sync runs
