"""Legacy-compatible orders endpoints (/api/orders...): the monolith's contract, served from the orders
domain through acl/orders. Same bodies, paging, status codes and error envelope as the monolith.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from acl.common.conventions import legacy_server_time
from acl.common.envelope import (
    LegacyApiError,
    RawBodyDep,
    envelope,
    first_values,
    legacy_id,
    parse_json_body,
    parse_query,
)
from acl.orders.legacy_requests import (
    OrderCreateBody,
    OrderListQuery,
    StatusChangeBody,
    legacy_error,
)
from acl.orders.translate import order_to_json
from new_services.orders.deps import RepositoryDep, SagaDep, SessionDep, SettingsDep
from new_services.orders.domain import OrderNotFound
from new_services.orders.repository import OrderRepository

PREFIX = "/api/orders"
router = APIRouter(prefix=PREFIX, tags=["legacy-compatible"])


@router.get("")
def list_orders(request: Request, repo: RepositoryDep, settings: SettingsDep) -> dict[str, Any]:
    query = parse_query(first_values(request), OrderListQuery)
    criteria = query.to_filter()
    total = repo.count(criteria)
    orders = repo.page_by_offset(criteria, query.offset, query.page_size)
    return {"Orders": [order_to_json(o, settings.legacy_tz) for o in orders], "Page": query.page,
            "PageSize": query.page_size, "Total": total,
            "ServerTime": legacy_server_time(datetime.now(UTC), settings.legacy_tz)}


@router.get("/{order_id}")
def get_order(order_id: str, request: Request, repo: RepositoryDep, settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, order_id)
    order = repo.get(ident)
    if order is None:
        raise OrderNotFound(ident)
    return order_to_json(order, settings.legacy_tz)


@router.post("", status_code=201)
def place_order(body: RawBodyDep, saga: SagaDep, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    command = parse_json_body(body, OrderCreateBody)
    order = saga.place(session, command.CustomerId, command.line_requests())
    return order_to_json(order, settings.legacy_tz)


@router.post("/{order_id}/cancel")
def cancel_order(order_id: str, request: Request, saga: SagaDep, session: SessionDep,
                 settings: SettingsDep) -> dict[str, Any]:
    return order_to_json(saga.cancel(session, legacy_id(request, order_id)), settings.legacy_tz)


@router.post("/{order_id}/status")
def change_status(order_id: str, request: Request, body: RawBodyDep, saga: SagaDep, session: SessionDep,
                  settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, order_id)
    command = parse_json_body(body, StatusChangeBody)
    return order_to_json(saga.transition(session, ident, command.target), settings.legacy_tz)


# --- errors in the legacy envelope ------------------------------------------------------------------------

def is_legacy_path(path: str) -> bool:
    return path.startswith("/api/")


def legacy_envelope(request: Request, status: int, code: str, detail: str) -> Response | None:
    """EnvelopeRenderer for the shared problem handlers: legacy paths answer like the monolith."""
    if not is_legacy_path(request.url.path):
        return None
    if status == 404 and code == "NOT_FOUND":
        detail = f"no such endpoint: {request.method} {request.url.path}"
    elif status == 405:
        code, detail = "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}"
    elif status >= 500:
        code, detail = "INTERNAL_ERROR", "unexpected server error; see the server log"
    return JSONResponse(envelope(code, detail), status_code=status)


async def on_legacy_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LegacyApiError)
    return JSONResponse(exc.body(), status_code=exc.status)


def domain_error_as_legacy(exc: Exception) -> Response | None:
    mapped = legacy_error(exc)
    return None if mapped is None else JSONResponse(mapped.body(), status_code=mapped.status)


__all__ = ["OrderRepository", "domain_error_as_legacy", "is_legacy_path", "legacy_envelope", "on_legacy_error",
           "router"]
