"""RFC 9457 problem details (application/problem+json) for every error a service answers.

Why one module: clients of the native APIs get one machine-readable error shape, whatever raised it —
a domain rule, request validation, an unknown route or a bug (the last without leaking internals).
Legacy-compatible routers can plug in their own envelope through `EnvelopeRenderer`.

Two failures get special care: a database still locked by other writers after the wait (db.py) answers the
legacy contract's 503 DATABASE_BUSY with Retry-After; a bug answers 500 from an ASGI boundary inside the
app, so the server neither logs a second traceback nor drops the kept-alive connection (errorlog.py).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from new_services.common.db import DatabaseBusy, is_busy
from new_services.common.errorlog import REQUEST_ID_HEADER, ErrorLog

PROBLEM_JSON = "application/problem+json"
DATABASE_BUSY = "DATABASE_BUSY"
BUSY_DETAIL = "the database stayed locked by other writers; retry shortly"
BUSY_RETRY_AFTER_S = "1"
log = logging.getLogger(__name__)

# (request, status, code, detail) -> Response, or None to fall back to problem details.
EnvelopeRenderer = Callable[[Request, int, str, str], Response | None]


class Problem(Exception):
    """Raise from a handler to answer with a problem-details document."""

    def __init__(self, status: int, detail: str, *, title: str | None = None, type_: str = "about:blank",
                 code: str | None = None, **extensions: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.code = code or HTTPStatus(status).phrase.upper().replace(" ", "_")
        self.extensions = extensions


def problem_response(status: int, detail: str | None = None, *, title: str | None = None,
                     type_: str = "about:blank", instance: str | None = None,
                     headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title or HTTPStatus(status).phrase, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(jsonable_encoder(body), status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ErrorBoundary:
    """Turns an exception no handler took into the app's 500 answer, logged by ErrorLog.

    Why not an exception_handler(Exception): Starlette re-raises after calling it, so uvicorn logs the full
    traceback again and closes the connection — a flood in the log and a dead socket for the next request.
    """

    def __init__(self, app: ASGIApp, *, render: Callable[[Request], Response], errors: ErrorLog) -> None:
        self.app, self.render, self.errors = app, render, errors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # the boundary: every bug becomes one 500 and one log line
            request = Request(scope)
            self.errors.unexpected(exc, method=request.method, path=request.url.path,
                                   request_id=request.headers.get(REQUEST_ID_HEADER))
            if started:
                raise  # half an answer went out: only closing the connection is honest now
            await self.render(request)(scope, receive, send)


def install_problem_handlers(app: FastAPI, *, envelope: EnvelopeRenderer | None = None) -> None:
    """Register handlers so every error becomes problem+json (or the router's own legacy envelope)."""
    errors = ErrorLog(log)
    app.state.error_log = errors

    def render(request: Request, status: int, code: str, detail: str, **extensions: Any) -> Response:
        if envelope is not None:
            custom = envelope(request, status, code, detail)
            if custom is not None:
                return custom
        return problem_response(status, detail, instance=request.url.path, **extensions)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        if envelope is not None:
            custom = envelope(request, exc.status, exc.code, exc.detail)
            if custom is not None:
                return custom
        return problem_response(exc.status, exc.detail, title=exc.title, type_=exc.type,
                                instance=request.url.path, code=exc.code, **exc.extensions)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        code = HTTPStatus(exc.status_code).phrase.upper().replace(" ", "_")
        response = render(request, exc.status_code, code, detail)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
                  for e in exc.errors()]
        detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors) or "invalid request"
        return render(request, 422, "VALIDATION_ERROR", detail, errors=errors)

    def internal_error(request: Request) -> Response:
        return render(request, 500, "INTERNAL_ERROR", "internal error; see the service log")

    async def _database(request: Request, exc: Exception) -> Response:
        if not is_busy(exc):
            raise exc  # a real fault: the boundary answers 500 and logs it
        errors.expected(503, DATABASE_BUSY, exc, method=request.method, path=request.url.path,
                        request_id=request.headers.get(REQUEST_ID_HEADER))
        response = await _problem(request, Problem(503, BUSY_DETAIL, code=DATABASE_BUSY))
        response.headers["Retry-After"] = BUSY_RETRY_AFTER_S
        return response

    app.add_exception_handler(DatabaseBusy, _database)
    app.add_exception_handler(DBAPIError, _database)
    app.add_exception_handler(PoolTimeout, _database)
    app.add_middleware(ErrorBoundary, render=internal_error, errors=errors)
