"""RFC 9457 problem details (application/problem+json) for every error a service answers.

Why one module: clients of the native APIs get one machine-readable error shape, whatever raised it —
a domain rule, request validation, an unknown route or a bug (the last without leaking internals).
Legacy-compatible routers can plug in their own envelope through `EnvelopeRenderer`.
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
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
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


def install_problem_handlers(app: FastAPI, *, envelope: EnvelopeRenderer | None = None) -> None:
    """Register handlers so every error becomes problem+json (or the router's own legacy envelope)."""

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

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return render(request, 500, "INTERNAL_ERROR", "internal error; see the service log")
