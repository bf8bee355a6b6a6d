"""Legacy-compatible orders endpoints (/api/orders...): the monolith's contract, served from the orders
domain through acl/orders. Same bodies, paging, status codes and error envelope as the monolith — also for
who may call them (new_services/orders/identity.py: logged in via the façade's signed identity).
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

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
from new_services.common.db import Database
from new_services.common.deps import in_session
from new_services.common.dryrun import is_dry_run
from new_services.orders.deps import SagaDep, SettingsDep
from new_services.orders.domain import OrderNotFound
from new_services.orders.identity import LegacyUser, own_customer_legacy
from new_services.orders.repository import OrderRepository

PREFIX = "/api/orders"
router = APIRouter(prefix=PREFIX, tags=["legacy-compatible"])


# The two reads are `async def` and open their read session themselves (no sync dependency): they run on the
# worker's event loop, one at a time, as the monolith's sync workers do — no network call, a few ms of SQL. In
# the thread pool (a hop for the session's dependency, one for the handler), 8 concurrent reads per worker took
# turns on the GIL and their p95 was 1.5-1.75x the monolith's (load/bench_orders.py, issue 21). They load
# orders with their lines in one plain SQL statement (OrderRepository._with_lines; the list's count only when
# the page cannot tell it) and answer JSONResponse directly: the bodies are JSON-ready (order_to_json), and
# FastAPI's jsonable_encoder walk over a page of orders cost more than building it. No cache: an order read
# must show the status the last write gave it.
@router.get("", response_class=JSONResponse)
async def list_orders(_user: LegacyUser, request: Request, settings: SettingsDep) -> JSONResponse:
    query = parse_query(first_values(request), OrderListQuery)
    with _read_session(request) as session:
        total, orders = OrderRepository(session).count_and_page(query.to_filter(), query.offset, query.page_size)
    return JSONResponse({"Orders": [order_to_json(o, settings.legacy_tz) for o in orders], "Page": query.page,
                         "PageSize": query.page_size, "Total": total,
                         "ServerTime": legacy_server_time(datetime.now(UTC), settings.legacy_tz)})


@router.get("/{order_id}", response_class=JSONResponse)
async def get_order(_user: LegacyUser, order_id: str, request: Request, settings: SettingsDep) -> JSONResponse:
    ident = legacy_id(request, order_id)
    with _read_session(request) as session:
        order = OrderRepository(session).get(ident)
    if order is None:
        raise OrderNotFound(ident)
    return JSONResponse(order_to_json(order, settings.legacy_tz))


def _read_session(request: Request) -> AbstractContextManager[Session]:
    """What in_session gives a safe method (deferred BEGIN; a verified dry run rolled back), on the loop."""
    database: Database = request.app.state.database
    return database.session(dry_run=is_dry_run(request), write=False)


# The writes run their session in one pool thread (in_session): the saga's calls to the monolith, the store and
# a dry run's rollback happen in the thread that holds the connection — never in a request waiting for a second
# thread, as with a sync handler and a session dependency.
@router.post("", status_code=201)
async def place_order(user: LegacyUser, request: Request, body: RawBodyDep, saga: SagaDep,
                      settings: SettingsDep) -> dict[str, Any]:
    command = parse_json_body(body, OrderCreateBody)
    own_customer_legacy(user, command.CustomerId)
    return await in_session(request, lambda session: order_to_json(
        saga.place(session, command.CustomerId, command.line_requests()), settings.legacy_tz))


@router.post("/{order_id}/cancel")
async def cancel_order(_user: LegacyUser, order_id: str, request: Request, saga: SagaDep,
                       settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, order_id)
    return await in_session(request, lambda session: order_to_json(saga.cancel(session, ident), settings.legacy_tz))


@router.post("/{order_id}/status")
async def change_status(_user: LegacyUser, order_id: str, request: Request, body: RawBodyDep, saga: SagaDep,
                        settings: SettingsDep) -> dict[str, Any]:
    ident = legacy_id(request, order_id)
    command = parse_json_body(body, StatusChangeBody)
    return await in_session(request, lambda session: order_to_json(
        saga.transition(session, ident, command.target), settings.legacy_tz))


# --- errors in the legacy envelope ------------------------------------------------------------------------

def domain_error_as_legacy(exc: Exception) -> Response | None:
    mapped = legacy_error(exc)
    return None if mapped is None else JSONResponse(mapped.body(), status_code=mapped.status)


