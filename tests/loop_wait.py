"""Let a test's event loop run until something holds: bounded by tries, never a wall-clock assertion."""
from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], object], tries: int = 1000, pause: float = 0.01) -> None:
    """Return once `predicate()` is true; AssertionError after `tries` short sleeps (seconds, not a target)."""
    for _ in range(tries):
        if predicate():
            return
        await asyncio.sleep(pause)
    raise AssertionError("the condition never held")
