"""Counting a service's hand-overs to threads in-process: how the tests check that a handler runs its blocking
work in one pool thread (in_session) rather than one hop per sync dependency and handler."""
from __future__ import annotations

import asyncio

import anyio.to_thread
import pytest


def count_thread_hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A list that gets one entry per hand-over to a thread from now on, whichever pool (anyio's, or the
    loop's executor: "anyio" / "executor"); clear it before the call to count."""
    hops: list[str] = []
    to_thread, in_executor = anyio.to_thread.run_sync, asyncio.BaseEventLoop.run_in_executor

    async def counted_to_thread(*args, **kwargs):  # type: ignore[no-untyped-def]
        hops.append("anyio")
        return await to_thread(*args, **kwargs)

    def counted_in_executor(self, *args):  # type: ignore[no-untyped-def]
        hops.append("executor")
        return in_executor(self, *args)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted_to_thread)
    monkeypatch.setattr(asyncio.BaseEventLoop, "run_in_executor", counted_in_executor)
    return hops
