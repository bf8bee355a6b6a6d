"""proxy/common/asgi.read_body and proxy/common/background.Background (the addons' one background task)."""
from __future__ import annotations

import asyncio
from typing import Any


def _receive(*messages: dict[str, Any]):
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)
    return receive


def test_chunks_are_joined_until_the_last_one() -> None:
    from proxy.common.asgi import read_body

    receive = _receive({"type": "http.request", "body": b"ab", "more_body": True},
                       {"type": "http.request", "body": b"", "more_body": True},
                       {"type": "http.request", "body": b"cd"},
                       {"type": "http.request", "body": b"never read"})
    assert asyncio.run(read_body(receive)) == b"abcd"


def test_a_disconnect_ends_the_body_with_what_came() -> None:
    from proxy.common.asgi import read_body

    receive = _receive({"type": "http.request", "body": b"ab", "more_body": True}, {"type": "http.disconnect"})
    assert asyncio.run(read_body(receive)) == b"ab"
    assert asyncio.run(read_body(_receive({"type": "http.request"}))) == b""


def test_background_starts_once_and_stops() -> None:
    from proxy.common.background import Background

    started: list[int] = []

    async def forever() -> None:
        started.append(1)
        await asyncio.Event().wait()

    async def scenario() -> None:
        bg = Background("test task", forever)
        bg.start()
        first = bg.task
        bg.start()                      # already running: the same task
        assert bg.task is first and first is not None and first.get_name() == "test task"
        await asyncio.sleep(0)
        bg.stop()
        bg.stop()                       # idempotent
        assert bg.task is None
        await asyncio.sleep(0)
        assert first.cancelled()

    asyncio.run(scenario())
    assert started == [1]
