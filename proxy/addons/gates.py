"""Addon: the flip gates the launcher names, so admin-API flips are gated like `strangler flip`.

Option `strangler_gates` (else $STRANGLER_GATES, which `strangler up` sets for every process it starts):
comma-separated `NAME=module:function` entries (proxy.gates). The resolved gates are handed to the façade's
state (`state.gates`), which the admin API passes to every flip: nothing is registered process-wide.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from mitmproxy import ctx, exceptions

from proxy.gates import gates_from

if TYPE_CHECKING:
    from proxy.addons.state import FacadeState
    from proxy.flips import Gate


class Gates:
    def __init__(self, state: FacadeState | None = None):
        self.state = state
        self.gates: tuple[Gate, ...] = ()

    def load(self, loader) -> None:
        loader.add_option("strangler_gates", str, "",
                          "Flip gates for admin-API flips: NAME=module:function,… (empty = $STRANGLER_GATES).")

    def configure(self, updated: set[str]) -> None:
        if "strangler_gates" in updated:
            try:
                self.gates = tuple(gates_from(ctx.options.strangler_gates or None))
            except ValueError as exc:
                raise exceptions.OptionsError(f"strangler_gates: {exc}") from None
            if self.state is not None:
                self.state.gates = self.gates
