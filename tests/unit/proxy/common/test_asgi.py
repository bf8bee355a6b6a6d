"""proxy/common/asgi.read_body: every chunk of a request body, and what came before a disconnect."""
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
