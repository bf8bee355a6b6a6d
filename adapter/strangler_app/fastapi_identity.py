"""Remote identity, service side: trust the façade's signed X-Strangler-Identity, nothing else.

    from strangler_app.fastapi_identity import CurrentUser, IdentityMiddleware
    app.add_middleware(IdentityMiddleware)          # key: $STRANGLER_IDENTITY_KEY

    @app.get("/orders")
    def orders(user: CurrentUser): ...              # 401 problem JSON when anonymous

The middleware (pure ASGI) verifies the header when present — forged, expired, replayed or signed for another
request: 401 problem JSON, the handler never runs — and stores the Principal in
scope["state"]["strangler_principal"]; no header means anonymous. `principal` / `MaybeUser` allow anonymous;
`require_user` / `CurrentUser` refuse it with 401 {"title": "login required", …}.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, MutableMapping, Optional, Tuple

from fastapi import Depends, Request
from strangler_app.identity import ANONYMOUS, HEADER, KEY_ENV, IdentityError, Principal, check_key, key_from_env, verify

try:  # Python >= 3.9
    from typing import Annotated
except ImportError:  # pragma: no cover - Python 3.8: FastAPI depends on typing_extensions
    from typing_extensions import Annotated

log = logging.getLogger("strangler_app")
STATE_KEY = "strangler_principal"
_HEADER_BYTES = HEADER.lower().encode("latin-1")
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Dict[str, Any]]], Callable[[Dict[str, Any]], Awaitable[None]]],
                   Awaitable[None]]


class LoginRequired(Exception):
    """Raised by require_user for an anonymous caller; IdentityMiddleware answers it with a 401 problem."""


def _problem(status: int, title: str, detail: str) -> Tuple[bytes, List[Tuple[bytes, bytes]]]:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode("utf-8")
    return body, [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
                  (b"www-authenticate", b'Strangler realm="identity"')]


class IdentityMiddleware:
    def __init__(self, app: ASGIApp, key: Optional[str] = None) -> None:
        self.app = app
        self.key = key_from_env() if key is None else key
        check_key(self.key)  # a missing/short key fails at startup: "... Fix: set STRANGLER_IDENTITY_KEY ..."

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        value = None
        for name, raw in scope.get("headers") or ():
            if name == _HEADER_BYTES:
                if value is not None:  # two identity headers: ambiguous, never pick one
                    await self._refuse(send, 401, "identity header refused", "more than one %s header" % HEADER)
                    return
                value = raw.decode("latin-1")
        principal = ANONYMOUS
        if value is not None:
            raw_path = scope.get("raw_path")
            path = raw_path.decode("latin-1") if raw_path else scope.get("path", "/")
            try:
                principal = verify(self.key, value, method=scope.get("method", "GET"), path=path)
            except IdentityError as exc:
                log.warning("strangler identity: refused %s %s: %s", scope.get("method"), scope.get("path"), exc)
                await self._refuse(send, 401, "identity header refused",
                                   "%s. Fix: only the strangler façade sets %s; it and this service must share %s"
                                   % (exc, HEADER, KEY_ENV))
                return
        scope.setdefault("state", {})[STATE_KEY] = principal
        started = False

        async def tracking_send(message: Dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except LoginRequired:
            if started:
                raise
            await self._refuse(send, 401, "login required",
                               "this route needs a logged-in user; log in on the application first")

    @staticmethod
    async def _refuse(send: Any, status: int, title: str, detail: str) -> None:
        body, headers = _problem(status, title, detail)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def principal(request: Request) -> Principal:
    """The caller (anonymous allowed). Without IdentityMiddleware installed this is a configuration error."""
    state = request.scope.get("state") or {}
    if STATE_KEY not in state:
        raise RuntimeError("strangler identity: IdentityMiddleware is not installed. Fix: "
                           "app.add_middleware(IdentityMiddleware)")
    found: Principal = state[STATE_KEY]
    return found


def require_user(request: Request) -> Principal:
    """The caller, who must be logged in (401 problem JSON {"title": "login required"} otherwise)."""
    found = principal(request)
    if found.anonymous:
        raise LoginRequired()
    return found


async def _principal_dep(request: Request) -> Principal:
    return principal(request)  # async: FastAPI would run a plain def in its thread pool (a hop per request)


async def _require_user_dep(request: Request) -> Principal:
    return require_user(request)


CurrentUser = Annotated[Principal, Depends(_require_user_dep)]
MaybeUser = Annotated[Principal, Depends(_principal_dep)]
