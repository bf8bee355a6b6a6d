"""One background asyncio task an addon keeps while mitmproxy runs: started once from the addon's `running`
hook (the event loop exists only then), cancelled from `done`. Three addons had the same six lines for it."""
from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Background:
    """`start()` creates the task from `factory()` unless it runs already; `stop()` cancels it (idempotent)."""

    def __init__(self, name: str, factory: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.name, self._factory = name, factory
        self.task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._factory(), name=self.name)

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None


__all__ = ["Background"]
