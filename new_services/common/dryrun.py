"""Dry-run middleware: a correctly signed shadow write runs, answers, and leaves no trace.

Why an ASGI middleware (not a dependency): the signature covers the raw body, which must be read before the
app parses it and then replayed unchanged. The verdict is stored in the request state; the session
dependency turns it into a rolled-back transaction, and handlers read it (`DryRunDep`) to skip external side
effects such as calls to other systems. Unsigned, stale or forged headers are ignored: the request runs
normally, exactly as if the header were absent.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from proxy.signing import DEFAULT_WINDOW_S, DRY_RUN_RESPONSE_HEADER, HEADER, verify

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HEADER_BYTES = HEADER.lower().encode("latin-1")
STATE_KEY = "dry_run"


def _path_with_query(scope: Scope) -> str:
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    path = raw.decode("latin-1")
    query = scope.get("query_string") or b""
    return f"{path}?{query.decode('latin-1')}" if query else path


class DryRunMiddleware:
    def __init__(self, app: ASGIApp, *, key: str, window_s: float = DEFAULT_WINDOW_S) -> None:
        self.app = app
        self.key = key
        self.window_s = window_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = False
        header = next((v for k, v in scope["headers"] if k == _HEADER_BYTES), None)
        if header is None or scope["method"] not in WRITE_METHODS:
            await self.app(scope, receive, send)
            return

        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            more = message.get("more_body", False)
        dry_run = verify(self.key, scope["method"], _path_with_query(scope), bytes(body),
                         header.decode("latin-1"), window_s=self.window_s)
        scope["state"][STATE_KEY] = dry_run

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        async def mark(message: Message) -> None:
            if dry_run and message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((DRY_RUN_RESPONSE_HEADER.lower().encode("latin-1"), b"1"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, replay, mark)


def is_dry_run(request: Request) -> bool:
    """True when this request is a verified shadow copy: do not cause external side effects."""
    return bool(getattr(request.state, STATE_KEY, False))


DryRunDep = Annotated[bool, Depends(is_dry_run)]
