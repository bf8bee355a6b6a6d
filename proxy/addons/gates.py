"""Addon: register the flip gates the launcher names, so admin-API flips are gated like `strangler flip`.

Option `strangler_gates` (else $STRANGLER_GATES, which `strangler up` sets for every process it starts):
comma-separated `NAME=module:function` entries (proxy.gates).
"""
from __future__ import annotations

import os

from mitmproxy import ctx, exceptions

from proxy.gates import GATES_ENV, register_gates


class Gates:
    def load(self, loader) -> None:
        loader.add_option("strangler_gates", str, "",
                          "Flip gates for admin-API flips: NAME=module:function,… (empty = $STRANGLER_GATES).")

    def configure(self, updated: set[str]) -> None:
        if "strangler_gates" in updated:
            try:
                register_gates(ctx.options.strangler_gates or os.environ.get(GATES_ENV, ""))
            except ValueError as exc:
                raise exceptions.OptionsError(f"strangler_gates: {exc}") from None
