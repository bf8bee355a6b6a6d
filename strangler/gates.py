"""The kit's flip gates, named in one place so `strangler flip` and the façade's admin API refuse the same
flips for the same reasons. proxy/ stays generic: the CLI registers these in its own process, and hands
them to the façade as $STRANGLER_GATES (set by `strangler up` for every process; see proxy.gates).

Each gate's module is imported when a flip asks it, not at start-up: every `strangler` call registers the
gates, and the data-migration gate pulls in SQLAlchemy."""
from __future__ import annotations

GATES = {
    "footprint": "strangler.footprint.gate:footprint_gate",  # tables it writes are backfilled + verified
    "data-ownership": "strangler.migrate.gate:ownership_gate",  # while legacy owns writes, sync runs
    "promote": "strangler.promote:promote_gate",  # moves up the ladder need recent parity within `promote:`
}
SPEC = ",".join(f"{name}={target}" for name, target in GATES.items())  # the value of $STRANGLER_GATES


def register_kit_gates() -> None:
    """Idempotent: registering again replaces the gate of the same name."""
    from proxy.gates import register_gates

    register_gates(SPEC)
