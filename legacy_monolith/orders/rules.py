"""Order status rules: N → P → S → D along /status; N or P → C only through /cancel."""
from __future__ import annotations

STATUS_NAMES = {"N": "new", "P": "paid", "S": "shipped", "D": "delivered", "C": "cancelled"}
FORWARD = {"N": "P", "P": "S", "S": "D"}
CANCELLABLE = frozenset({"N", "P"})
#: statuses whose lines still hold a stock reservation (released on cancel, consumed on ship)
RESERVING = frozenset({"N", "P"})


def can_advance(current: str, target: str) -> bool:
    return FORWARD.get(current) == target


def can_cancel(current: str) -> bool:
    return current in CANCELLABLE


def transition_error(current: str, target: str) -> str:
    allowed = FORWARD.get(current)
    hint = f"the only next status is {allowed}" if allowed else "no further status change is possible"
    return (f"cannot change an order from {current} ({STATUS_NAMES[current]}) to {target} "
            f"({STATUS_NAMES.get(target, '?')}); {hint}")
