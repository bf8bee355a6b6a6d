"""Request plumbing shared by the blueprints: a DB session per request, the legacy error envelope,
body/query validation through pydantic, and a write-transaction wrapper that retries lock contention.
"""
from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from legacy_monolith.errorlog import TracebackBudget, describe, where

log = logging.getLogger("legacy_monolith")
errors = TracebackBudget(log)
BUSY_RETRY_AFTER_S = "1"
BUSY_MESSAGE = "the database stayed locked by other writers; retry shortly"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_ATTEMPTS = 4
TRANSIENT_PG_STATES = {"40001", "40P01", "55P03"}  # serialization failure, deadlock, lock not available


class LegacyError(Exception):
    """An expected failure answered with the legacy envelope and a 4xx (or 503) status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(code: str, what: str, ident: Any) -> LegacyError:
    return LegacyError(404, code, f"{what} {ident} does not exist")


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"Success": False, "ErrorCode": code, "ErrorMessage": message}


class Sessions:
    """Per-app session factories: plain reads, and writes that lock SQLite up front (BEGIN IMMEDIATE)."""

    def __init__(self, read: sessionmaker[Session], write: sessionmaker[Session], zone: ZoneInfo) -> None:
        self.read, self.write, self.zone = read, write, zone


def state() -> Sessions:
    return current_app.extensions["legacy_monolith"]


def db() -> Session:
    """The request's session, opened lazily (write flavour for unsafe methods), closed on teardown."""
    if "db" not in g:
        factories = state()
        g.db = (factories.read if request.method in SAFE_METHODS else factories.write)()
    return g.db


def zone() -> ZoneInfo:
    return state().zone


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def is_transient(exc: DBAPIError) -> bool:
    """Lock contention worth retrying: SQLite 'database is locked', PG serialization/deadlock."""
    if "database is locked" in str(exc.orig) or "database is busy" in str(exc.orig):
        return True
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_PG_STATES


def transactional(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a write view as one transaction: commit on success, roll back on any error, retry contention."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cause = ""
        for attempt in range(WRITE_ATTEMPTS):
            session = db()
            try:
                result = view(*args, **kwargs)
                session.commit()
                return result
            except DBAPIError as exc:
                session.rollback()
                if not is_transient(exc):
                    raise
                cause = describe(exc)
                time.sleep(0.02 * 2 ** attempt)
            except BaseException:
                session.rollback()
                raise
        # one line for the request that gave up, none per attempt (contention must not flood the log)
        log.warning("503 DATABASE_BUSY on %s after %d attempts: %s",
                    where(request.method, request.path, request.headers.get("X-Request-ID")), WRITE_ATTEMPTS, cause)
        raise LegacyError(503, "DATABASE_BUSY", BUSY_MESSAGE)

    return wrapper


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in item["loc"]).replace(".[", "[")
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def parse_body[M: BaseModel](model: type[M]) -> M:
    """The JSON body validated by `model`; malformed or invalid bodies become 400 legacy envelopes."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise LegacyError(400, "INVALID_REQUEST", "request body is required: send a JSON object")
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        raise LegacyError(400, "INVALID_JSON", "request body is not valid JSON")
    if not isinstance(payload, dict):
        raise LegacyError(400, "INVALID_REQUEST", "request body must be a JSON object")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise LegacyError(400, "VALIDATION_ERROR", _describe(exc)) from None


def parse_query[M: BaseModel](model: type[M]) -> M:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise LegacyError(400, "INVALID_QUERY", _describe(exc)) from None


def register_error_handlers(app: Flask) -> None:
    """Every failure — ours, Flask's 404/405, or a bug — answers with the legacy envelope, never HTML."""

    @app.errorhandler(LegacyError)
    def _legacy(exc: LegacyError):
        headers = {"Retry-After": BUSY_RETRY_AFTER_S} if exc.status == 503 else {}
        return envelope(exc.code, exc.message), exc.status, headers

    @app.errorhandler(404)
    def _not_found(_exc: Exception):
        return envelope("NOT_FOUND", f"no such endpoint: {request.method} {request.path}"), 404

    @app.errorhandler(405)
    def _method(_exc: Exception):
        return envelope("METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.path}"), 405

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        code = (exc.name or "HTTP_ERROR").upper().replace(" ", "_")
        return envelope(code, exc.description or code), exc.code or 400

    @app.errorhandler(OperationalError)
    def _db_down(exc: OperationalError):
        log.error("database unavailable on %s: %s",
                  where(request.method, request.path, request.headers.get("X-Request-ID")), describe(exc))
        if is_transient(exc):
            return _legacy(LegacyError(503, "DATABASE_BUSY", BUSY_MESSAGE))
        return envelope("DATABASE_UNAVAILABLE", "the database is unavailable or busy; retry shortly"), 503

    @app.errorhandler(Exception)
    def _internal(exc: Exception):
        # Exception, not 500: Flask logs a full traceback itself before calling a 500 handler.
        errors.log(exc, request.method, request.path, request.headers.get("X-Request-ID"))
        return envelope("INTERNAL_ERROR", "unexpected server error; see the server log"), 500
