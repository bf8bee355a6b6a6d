"""Admin API of the façade (a Starlette app served inside the mitmdump process, on its own loopback port).

Every endpoint but /healthz needs `Authorization: Bearer $STRANGLER_ADMIN_TOKEN` (constant-time compare).
POST /flip goes through proxy.flips.flip_feature — the same code path as the CLI, with the same gates and
ledger — and then reloads the table at once, so the flip is live when the call returns.

The dashboard (proxy/dashboard, under /ui) lives on the same listener: a browser logs in with the same token
and gets a session cookie; its flips come to the same POST /flip with that cookie plus the session's CSRF
header (recorded with actor "dashboard").
"""
from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from proxy.dashboard.data import _option
from proxy.dashboard.sessions import CSRF_HEADER, Sessions
from proxy.dashboard.web import csrf_problem, dashboard_routes, secure, session_of
from proxy.flips import FlipError, flip_feature
from proxy.metrics import CONTENT_TYPE
from proxy.parity.store import parity_location

MIN_TOKEN_LENGTH = 16
TOKEN_HINT = ("set STRANGLER_ADMIN_TOKEN to a secret of at least 16 characters, e.g. "
              "export STRANGLER_ADMIN_TOKEN=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')")


class FlipBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    feature: str = Field(min_length=1)
    to: str = Field(min_length=1)
    percent: float | None = None
    reason: str = ""
    force: bool = False  # override gate refusals (promotion evidence, data gates): recorded in the ledger


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "status": status, "message": message, **extra}, status_code=status)


def create_admin_app(state, token: str, *, sessions: Sessions | None = None) -> Starlette:
    """`state` is the façade's FacadeState (current snapshot, routes_path, reload(), metrics)."""
    expected = f"Bearer {token}".encode()
    sessions = sessions if sessions is not None else Sessions(token)

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    def unauthorized() -> JSONResponse:
        resp = _error(401, "unauthorized", "missing or wrong bearer token; send 'Authorization: Bearer <token>' "
                      "with the value of STRANGLER_ADMIN_TOKEN")
        resp.headers["WWW-Authenticate"] = "Bearer"
        return resp

    async def healthz(request: Request) -> Response:
        snap = state.current
        return JSONResponse({"status": "ok", "table_version": snap.version if snap else None})

    async def routes(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        snap = state.current
        table = snap.table
        return JSONResponse({
            "version": snap.version, "file": str(state.routes_path), "last_error": state.last_error,
            "default": table.default,
            "upstreams": {name: {"url": up.url, "breaker": snap.breakers[name].state.name.lower()}
                          for name, up in table.upstreams.items()},
            "features": {name: {"state": f.state.value, "target": f.target,
                                "canary_percent": f.canary_percent,
                                "routes": [{"methods": r.methods, "path": r.path} for r in f.routes]}
                         for name, f in table.features.items()},
        })

    async def flip(request: Request) -> Response:
        actor = "admin-api"
        if not authorized(request):
            session = session_of(request, sessions)
            if session is None:
                return unauthorized()
            problem = csrf_problem(request, session)
            if problem is not None:
                return secure(_error(403, "csrf", problem, header=CSRF_HEADER))
            actor = "dashboard"
        try:
            raw = json.loads(await request.body() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, "bad_json", f"request body is not valid JSON ({exc}); send "
                          '{"feature": "...", "to": "canary", "percent": 10, "reason": "..."}')
        try:
            body = FlipBody.model_validate(raw)
        except ValidationError as exc:
            problems = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
            return _error(422, "bad_flip", "invalid flip request: " + "; ".join(problems),
                          expected={"feature": "str", "to": "legacy|shadow|canary|new|retired",
                                    "percent": "number (canary only)", "reason": "str",
                                    "force": "bool (override refusals; recorded)"})
        try:
            record = await asyncio.to_thread(
                flip_feature, state.routes_path, body.feature, body.to, percent=body.percent,
                actor=actor, reason=body.reason, gates=state.gates, force=body.force,  # the same parity
                parity=parity_location(_option("strangler_parity_db") or None, shared=state.store_url))  # as shadow
        except FlipError as exc:
            status = 409 if exc.reasons else 400
            return _error(status, "flip_refused" if exc.reasons else "bad_flip", str(exc), reasons=exc.reasons)
        reloaded = state.reload()
        return JSONResponse({"flip": record.to_dict(), "changed": record.changed, "reloaded": reloaded,
                             "table_version": state.current.version})

    async def ledger(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        limit_raw = request.query_params.get("limit", "100")
        try:
            limit = int(limit_raw)
            if limit < 1:
                raise ValueError
        except ValueError:
            return _error(400, "bad_limit", f"limit must be a positive integer (got {limit_raw!r})")
        records = await asyncio.to_thread(state.store.read_ledger, request.query_params.get("feature"), limit)
        return JSONResponse({"records": records})

    async def metrics(request: Request) -> Response:
        if not authorized(request):
            return unauthorized()
        snap = state.current
        for name, breaker in snap.breakers.items():
            state.metrics.set_breaker(name, breaker.state)
        return Response(state.metrics.render(), media_type=CONTENT_TYPE)

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, "not_found", f"no admin endpoint {request.method} {request.url.path}; "
                      "see GET /healthz, /routes, /ledger, /metrics, /ui (dashboard) and POST /flip")

    async def bad_method(request: Request, exc: Exception) -> Response:
        return _error(405, "method_not_allowed", f"{request.method} is not allowed on {request.url.path}")

    return Starlette(routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/routes", routes, methods=["GET"]),
        Route("/flip", flip, methods=["POST"]),
        Route("/ledger", ledger, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        *dashboard_routes(state, sessions, bearer_ok=authorized),
    ], exception_handlers={404: not_found, 405: bad_method})
