"""The kit's flip gates, named in one place so `strangler flip` and the façade's admin API refuse the same
flips for the same reasons. proxy/ stays generic: the CLI passes these to its flips, and hands them to the
façade as $STRANGLER_GATES (set by `strangler up` for every process; see proxy.gates).

Each gate's module is imported when a flip asks it, not at start-up: the data-migration gate pulls in
SQLAlchemy."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from proxy.flips import Gate

GATES = {
    "footprint": "strangler.footprint.gate:footprint_gate",  # tables it writes are backfilled + verified
    "data-ownership": "strangler.migrate.gate:ownership_gate",  # while legacy owns writes, sync runs
    "promote": "strangler.promote:promote_gate",  # moves up the ladder need recent parity within `promote:`
}
SPEC = ",".join(f"{name}={target}" for name, target in GATES.items())  # the value of $STRANGLER_GATES


def kit_gates() -> list[Gate]:
    """The kit's gates, for one flip (resolved each time: nothing is registered process-wide)."""
    from proxy.gates import gates_from

    return gates_from(SPEC)
