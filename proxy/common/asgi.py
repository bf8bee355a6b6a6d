"""Reading a whole ASGI request body: the kit's comparator and the test upstreams read it the same way."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Receive = Callable[[], Awaitable[dict[str, Any]]]


async def read_body(receive: Receive) -> bytes:
    """Every `http.request` chunk joined; stops at the last chunk or at a disconnect (what came so far)."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)
        body += message.get("body", b"")
        if not message.get("more_body"):
            return bytes(body)


__all__ = ["Receive", "read_body"]
