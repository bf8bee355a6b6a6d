"""Legacy-compatible orders endpoints (/api/orders...): the monolith's contract, served from the orders
domain through acl/orders. Same bodies, paging, status codes and error envelope as the monolith — also for
who may call them (new_services/orders/identity.py: logged in via the façade's signed identity).
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from acl.common.conventions import legacy_server_time
from acl.common.envelope import (
    RawBodyDep,
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
from new_services.orders.identity import LegacyUser, own_customer_legacy

PREFIX = "/api/orders"
router = APIRouter(prefix=PREFIX, tags=["legacy-compatible"])


@router.get("")
def list_orders(_user: LegacyUser, request: Request, repo: RepositoryDep, settings: SettingsDep) -> dict[str, Any]:
    query = parse_query(first_values(request), OrderListQuery)
    criteria = query.to_filter()
    total = repo.count(criteria)
    orders = repo.page_by_offset(criteria, query.offset, query.page_size)
    return {"Orders": [order_to_json(o, settings.legacy_tz) for o in orders], "Page": query.page,
            "PageSize": query.page_size, "Total": total,
            "ServerTime": legacy_server_time(datetime.now(UTC), settings.legacy_tz)}


@router.get("/{order_id}")
def get_order(_user: LegacyUser, order_id: str, request: Request, repo: RepositoryDep,
              settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, order_id)
    order = repo.get(ident)
    if order is None:
        raise OrderNotFound(ident)
    return order_to_json(order, settings.legacy_tz)


@router.post("", status_code=201)
def place_order(user: LegacyUser, body: RawBodyDep, saga: SagaDep, session: SessionDep,
                settings: SettingsDep) -> dict[str, Any]:
    command = parse_json_body(body, OrderCreateBody)
    own_customer_legacy(user, command.CustomerId)
    order = saga.place(session, command.CustomerId, command.line_requests())
    return order_to_json(order, settings.legacy_tz)


@router.post("/{order_id}/cancel")
def cancel_order(_user: LegacyUser, order_id: str, request: Request, saga: SagaDep, session: SessionDep,
                 settings: SettingsDep) -> dict[str, Any]:
    return order_to_json(saga.cancel(session, legacy_id(request, order_id)), settings.legacy_tz)


@router.post("/{order_id}/status")
def change_status(_user: LegacyUser, order_id: str, request: Request, body: RawBodyDep, saga: SagaDep,
                  session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, order_id)
    command = parse_json_body(body, StatusChangeBody)
    return order_to_json(saga.transition(session, ident, command.target), settings.legacy_tz)


# --- errors in the legacy envelope ------------------------------------------------------------------------

def domain_error_as_legacy(exc: Exception) -> Response | None:
    mapped = legacy_error(exc)
    return None if mapped is None else JSONResponse(mapped.body(), status_code=mapped.status)


