"""ASGI dry-run middleware (FastAPI, Starlette, any ASGI app). Pure ASGI: imports no framework.

    from strangler_app.asgi import DryRunMiddleware
    app.add_middleware(DryRunMiddleware, key=os.environ["STRANGLER_SHADOW_KEY"], sessions=SessionLocal)

Why a middleware (not a dependency): the signature covers the raw body, which must be read before the app
parses it and then replayed unchanged. A write with a valid X-Strangler-Shadow runs inside a dry-run scope
(`sessions`, when given, get strangler_app.sqla's rollback hook) and its answer carries the
acknowledgement; a forged, stale or replayed signature is refused with 403 (one log line) and never runs.
The reserved probe route answers a signed POST with the acknowledgement and refuses anything else.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from strangler_app import protocol
from strangler_app import scope as _scope
from strangler_app.protocol import (
    ACK_HEADER,
    DRY_RUN_RESPONSE_HEADER,
    HEADER,
    PROBE_PATH,
    VALID,
    WRITE_METHODS,
    ReplayGuard,
)

log = logging.getLogger("strangler_app")
_HEADER_BYTES = HEADER.lower().encode("latin-1")
STATE_KEY = "dry_run"
Message = Dict[str, Any]
Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = List[Tuple[str, str]]
Answer = Tuple[int, Headers, bytes]


def path_with_query(raw_path: str, query: str) -> str:
    return "%s?%s" % (raw_path, query) if query else raw_path


class Gate:
    """What the ASGI and WSGI middlewares share: key, replay guard, verdicts, answers to refuse/acknowledge."""

    def __init__(self, key: str, window_s: float = protocol.DEFAULT_WINDOW_S, sessions: Any = None,
                 engine: Any = None, guard: Optional[ReplayGuard] = None) -> None:
        if not key:
            raise ValueError("DryRunMiddleware needs the shared key. Fix: pass key=os.environ[%r] (the value "
                             "the façade signs with)" % protocol.KEY_ENV)
        self.key = key
        self.guard = guard or ReplayGuard(window_s)
        if sessions is not None:
            from strangler_app import sqla

            sqla.install(sessions, engine)

    def verdict(self, method: str, path: str, body: bytes, signature: Optional[str]) -> str:
        return protocol.check(self.key, method, path, body, signature, self.guard)

    def refused(self, method: str, path: str, verdict: str) -> Answer:
        """403 with a problem body; one log line (never the body or the header value)."""
        detail = protocol.refusal(verdict)
        log.warning("strangler dry-run: refused %s %s: %s", method, path.split("?", 1)[0], verdict)
        body = json.dumps({"type": "about:blank", "title": "Dry-run signature refused", "status": 403,
                           "detail": detail}).encode("utf-8")
        return 403, [("content-type", "application/problem+json"), ("content-length", str(len(body)))], body

    def ack_headers(self, signature: str, status: int) -> Headers:
        return [(DRY_RUN_RESPONSE_HEADER, "1"), (ACK_HEADER, protocol.ack(self.key, signature, status))]

    @staticmethod
    def probe_answer() -> Answer:
        body = b'{"dry_run":true}'
        return 200, [("content-type", "application/json"), ("content-length", str(len(body)))], body


class DryRunMiddleware:
    def __init__(self, app: ASGIApp, key: str, window_s: float = protocol.DEFAULT_WINDOW_S,
                 sessions: Any = None, engine: Any = None) -> None:
        self.app = app
        self.gate = Gate(key, window_s, sessions, engine)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[STATE_KEY] = False
        method = scope["method"]
        probe = scope["path"] == PROBE_PATH
        header = next((v for k, v in scope["headers"] if k == _HEADER_BYTES), None)
        if not probe and (header is None or method not in WRITE_METHODS):
            await self.app(scope, receive, send)
            return

        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        raw = (scope.get("raw_path") or scope["path"].encode("utf-8")).decode("latin-1")
        path = path_with_query(raw, (scope.get("query_string") or b"").decode("latin-1"))
        signature = header.decode("latin-1") if header is not None else None
        verdict = self.gate.verdict(method, path, bytes(body), signature) if method in WRITE_METHODS \
            else protocol.ABSENT
        if verdict != VALID or signature is None:  # (VALID needs a signature)
            await _answer(send, self.gate.refused(method, path, verdict))
            return
        scope["state"][STATE_KEY] = True
        request_scope = _scope.DryRunScope()
        token = _scope.enter(request_scope)
        try:
            if probe:
                status, headers, content = self.gate.probe_answer()
                await _answer(send, (status, headers + self.gate.ack_headers(signature, status), content))
                return
            started: List[bool] = []
            try:
                await self.app(scope, _replay(bytes(body), receive), _acknowledge(self.gate, signature, send,
                                                                                  started))
            except Exception:
                if started:
                    raise
                # the app failed before answering: its transaction is rolled back below, and the answer (a 500,
                # as the server would give) still acknowledges, so the façade does not take a bug for a
                # target that ignores the protocol
                log.exception("strangler dry-run: %s %s failed", method, path.split("?", 1)[0])
                await _answer(send, (500, [("content-type", "text/plain; charset=utf-8"),
                                           *self.gate.ack_headers(signature, 500)], b"Internal Server Error"))
        finally:
            _scope.leave(token)
            request_scope.close()


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _acknowledge(gate: Gate, signature: str, send: Send, started: List[bool]) -> Send:
    """Adds the ack to the answer. The rollback happens when the app is done (its rows were never committed,
    so no other connection can see them meanwhile)."""

    async def acknowledged(message: Message) -> None:
        if message["type"] == "http.response.start":
            started.append(True)
            extra = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                     for k, v in gate.ack_headers(signature, message["status"])]
            message = {**message, "headers": list(message.get("headers", [])) + extra}
        await send(message)

    return acknowledged


async def _answer(send: Send, answer: Answer) -> None:
    status, headers, body = answer
    await send({"type": "http.response.start", "status": status,
                "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]})
    await send({"type": "http.response.body", "body": body})


def is_dry_run(request: Any) -> bool:
    """True when a Starlette/FastAPI request is a verified shadow copy (also: strangler_app.is_dry_run())."""
    return bool(getattr(request.state, STATE_KEY, False))
