"""Flip gates named by the launcher (`NAME=module:function,…`), so the façade's admin-API flips face the
same gates as `strangler flip` while proxy/ imports nothing of the operator CLI: it only knows the Gate
protocol of proxy.flips and the names it is handed (addon: proxy.addons.gates; the kit's: strangler.gates).
The gates are resolved from the spec and handed to the flip that uses them; nothing is registered globally.

Each module is imported when a flip first asks its gate, not at start-up (a gate may pull in SQLAlchemy); a
gate that cannot be imported refuses the flip (fail closed: proxy.flips reports a failing gate as a reason).
"""
from __future__ import annotations

import importlib
import os
import re
from typing import Any

from proxy.flips import Gate

GATES_ENV = "STRANGLER_GATES"
ENTRY_RE = re.compile(r"^([a-z][a-z0-9_-]*)=([A-Za-z_][\w.]*):([A-Za-z_]\w*)$")


def deferred_gate(module: str, name: str) -> Gate:
    """A gate that imports `module.name` on its first call."""
    def gate(table: Any, feature: str, to_state: Any) -> list[str]:
        return getattr(importlib.import_module(module), name)(table, feature, to_state)

    gate.__qualname__ = f"{module}.{name}"
    return gate


def parse_gates(spec: str) -> dict[str, Gate]:
    """`NAME=module:function,…` → gates; ValueError naming the bad entry and the fix."""
    gates: dict[str, Gate] = {}
    for entry in filter(None, (part.strip() for part in spec.split(","))):
        match = ENTRY_RE.match(entry)
        if match is None:
            raise ValueError(f"gate entry {entry!r} is not NAME=module:function. "
                             "Fix: e.g. footprint=strangler.footprint.gate:footprint_gate")
        gates[match.group(1)] = deferred_gate(match.group(2), match.group(3))
    return gates


def gates_from(spec: str | None = None) -> list[Gate]:
    """The gates of `spec` (None: $STRANGLER_GATES, read now), in order; ValueError for a malformed entry."""
    return list(parse_gates(os.environ.get(GATES_ENV, "") if spec is None else spec).values())
