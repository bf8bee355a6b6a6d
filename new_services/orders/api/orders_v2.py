"""Native orders API: /v2/orders with cursor pagination and RFC 9457 errors (via the app's handlers)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from strangler_app.fastapi_identity import CurrentUser

from new_services.common.pagination import decode_cursor, encode_cursor
from new_services.common.types import MAX_ID, IdPath
from new_services.orders.deps import RepositoryDep, SagaDep, SessionDep
from new_services.orders.domain import OrderNotFound, OrderStatus
from new_services.orders.identity import own_customer
from new_services.orders.repository import OrderFilter
from new_services.orders.schemas import (
    OrderCreate,
    OrderPublic,
    OrdersPage,
    OrderStatusUpdate,
)

router = APIRouter(prefix="/v2/orders", tags=["orders"])


@router.post("", response_model=OrderPublic, status_code=status.HTTP_201_CREATED)
def place_order(user: CurrentUser, body: OrderCreate, saga: SagaDep, session: SessionDep,
                response: Response) -> OrderPublic:
    order = saga.place(session, own_customer(user, body.customer_id), body.line_requests())
    response.headers["Location"] = f"{router.prefix}/{order.id}"
    return OrderPublic.of(order)


@router.get("", response_model=OrdersPage)
def list_orders(_user: CurrentUser, repo: RepositoryDep,
                customer_id: Annotated[int, Query(gt=0, le=MAX_ID, description="orders of this customer")],
                limit: Annotated[int, Query(ge=1, le=200)] = 50,
                cursor: str | None = None,
                status_: Annotated[OrderStatus | None, Query(alias="status")] = None) -> OrdersPage:
    after = decode_cursor(cursor) if cursor else None
    orders = repo.page_after(OrderFilter(customer_id=customer_id, status=status_), after, limit + 1)
    has_more = len(orders) > limit
    orders = orders[:limit]
    next_cursor = encode_cursor(orders[-1].id) if has_more and orders[-1].id is not None else None
    return OrdersPage(items=[OrderPublic.of(o) for o in orders], next_cursor=next_cursor)


@router.get("/{order_id}", response_model=OrderPublic)
def get_order(_user: CurrentUser, order_id: IdPath, repo: RepositoryDep) -> OrderPublic:
    order = repo.get(order_id)
    if order is None:
        raise OrderNotFound(order_id)
    return OrderPublic.of(order)


@router.post("/{order_id}/cancel", response_model=OrderPublic)
def cancel_order(_user: CurrentUser, order_id: IdPath, saga: SagaDep, session: SessionDep) -> OrderPublic:
    return OrderPublic.of(saga.cancel(session, order_id))


@router.post("/{order_id}/status", response_model=OrderPublic)
def change_status(_user: CurrentUser, order_id: IdPath, body: OrderStatusUpdate, saga: SagaDep,
                  session: SessionDep) -> OrderPublic:
    return OrderPublic.of(saga.transition(session, order_id, OrderStatus(body.status)))
