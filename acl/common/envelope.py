"""The legacy API's error envelope and request-parsing rules, for services that answer legacy clients.

Why replicate them: legacy clients (and the parity checker) see the service through the legacy contract.
A bad request must fail with the same status, ErrorCode and ErrorMessage the monolith gives, so these
helpers reproduce its rules: body checks in the same order, pydantic messages formatted the same way.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError

from new_services.common.types import MAX_ID


class LegacyApiError(Exception):
    """An expected failure, answered as {"Success": false, "ErrorCode", "ErrorMessage"} with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return envelope(self.code, self.message)


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"Success": False, "ErrorCode": code, "ErrorMessage": message}


def not_found(code: str, what: str, ident: Any) -> LegacyApiError:
    return LegacyApiError(404, code, f"{what} {ident} does not exist")


def describe(error: ValidationError, limit: int = 5) -> str:
    """'Field: message; Lines[0].Quantity: message' — the legacy formatting of validation errors."""
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in item["loc"]).replace(".[", "[")
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def parse_json_body[M: BaseModel](raw: bytes, model: type[M]) -> M:
    """Validate a legacy JSON request body: empty, malformed, non-object and invalid bodies are 400s."""
    if not raw.strip():
        raise LegacyApiError(400, "INVALID_REQUEST", "request body is required: send a JSON object")
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    if payload is None:
        raise LegacyApiError(400, "INVALID_JSON", "request body is not valid JSON")
    if not isinstance(payload, dict):
        raise LegacyApiError(400, "INVALID_REQUEST", "request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise LegacyApiError(400, "VALIDATION_ERROR", describe(exc)) from None


def parse_query[M: BaseModel](params: Mapping[str, str], model: type[M]) -> M:
    """Validate legacy query parameters (first value of each name, as the legacy app reads them)."""
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        raise LegacyApiError(400, "INVALID_QUERY", describe(exc)) from None


# --- HTTP details of the legacy routes (FastAPI), shared by every legacy-compatible router -------------------

async def raw_body(request: Request) -> bytes:
    """The body as bytes: legacy parsing rules (and the error order) need the raw text, not FastAPI's models."""
    return await request.body()


RawBodyDep = Annotated[bytes, Depends(raw_body)]


def first_values(request: Request) -> dict[str, str]:
    """Query parameters as the legacy app reads them: the first value of each name."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, value)
    return params


def legacy_id(request: Request, raw: str) -> int:
    """The legacy routes only match digits up to MAX_ID; anything else is 'no such endpoint', as the monolith
    answers (an id no column can hold must not reach the database: OverflowError → 500)."""
    digits = raw.lstrip("0")  # length first: int() of thousands of digits is slow, then refused
    if not raw.isascii() or not raw.isdigit() or len(digits) > len(str(MAX_ID)) or int(digits or 0) > MAX_ID:
        raise LegacyApiError(404, "NOT_FOUND", f"no such endpoint: {request.method} {request.url.path}")
    return int(digits or 0)


def is_legacy_path(path: str) -> bool:
    """The legacy JSON API lives under /api/: those paths answer in the legacy envelope, the rest as problems."""
    return path.startswith("/api/")


def legacy_envelope(request: Request, status: int, code: str, detail: str) -> Response | None:
    """EnvelopeRenderer for the shared problem handlers: legacy paths answer like the monolith."""
    if not is_legacy_path(request.url.path):
        return None
    if status == 404 and code == "NOT_FOUND":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        code, detail = "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}"
    elif status == 500:  # other 5xx (503 DATABASE_BUSY, …) are contract answers: code and message stay
        code, detail = "INTERNAL_ERROR", "unexpected server error; see the server log"
    return JSONResponse(envelope(code, detail), status_code=status)


async def on_legacy_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LegacyApiError)
    return JSONResponse(exc.body(), status_code=exc.status)
