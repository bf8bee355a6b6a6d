"""Who is placing or reading orders: the façade's signed identity (strangler_app.fastapi_identity), checked
the way the monolith checks its session, so both sides answer a request the same (parity through canary).

The monolith's rules, kept: every orders endpoint needs a logged-in customer (401); an order is placed for the
logged-in customer only (403 for another CustomerId); reads, cancels and status changes are not scoped to the
order's customer (the legacy app never was). The legacy-compatible routes answer in the legacy envelope with
the monolith's codes and messages; /v2 uses CurrentUser's problem JSON.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from strangler_app.fastapi_identity import MaybeUser
from strangler_app.identity import Principal

from acl.common.envelope import LegacyApiError

LOGIN_MESSAGE = "log in first: POST /api/login with Email and Password, then send its cookie"


def customer_id_of(user: Principal) -> int | None:
    """The logged-in CustomerId (the monolith's session user_id), None for a non-numeric id."""
    try:
        value = int(user.user_id) if user.user_id is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 else None


async def legacy_user(user: MaybeUser) -> Principal:  # async: a check, not worth a thread-pool hop per request
    if user.anonymous:
        raise LegacyApiError(401, "LOGIN_REQUIRED", LOGIN_MESSAGE)
    return user


def own_customer_legacy(user: Principal, customer_id: int) -> None:
    """The monolith's 403 for a body CustomerId that is not the caller's."""
    if customer_id != customer_id_of(user):
        raise LegacyApiError(403, "NOT_YOUR_CUSTOMER_ID", f"CustomerId {customer_id} is not the logged-in "
                             f"customer ({user.user_id}); orders are placed for yourself")


def own_customer(user: Principal, customer_id: int | None) -> int:
    """/v2: the order's customer is the caller; naming another customer is 403."""
    mine = customer_id_of(user)
    if mine is None:
        raise HTTPException(403, f"the logged-in user {user.user_id!r} is not a customer id")
    if customer_id is not None and customer_id != mine:
        raise HTTPException(403, f"customer_id {customer_id} is not the logged-in customer ({mine}); "
                                 "omit it: orders are placed for yourself")
    return mine


async def on_login_required(request: Request, _exc: Exception) -> JSONResponse:
    """CurrentUser's 401 as problem JSON. Registered on the app because the app's catch-all error boundary
    (new_services.common.problems) would otherwise turn LoginRequired into a 500 before IdentityMiddleware
    sees it."""
    return JSONResponse({"type": "about:blank", "title": "login required", "status": 401,
                         "detail": "this route needs a logged-in user; log in on the application first",
                         "instance": request.url.path}, status_code=401, media_type="application/problem+json",
                        headers={"WWW-Authenticate": 'Strangler realm="identity"'})


LegacyUser = Annotated[Principal, Depends(legacy_user)]
