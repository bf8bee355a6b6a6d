"""Native orders API: /v2/orders with cursor pagination and RFC 9457 errors (via the app's handlers)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session
from strangler_app.fastapi_identity import CurrentUser

from new_services.common.deps import in_session
from new_services.common.pagination import decode_cursor, encode_cursor
from new_services.common.types import MAX_ID, IdPath
from new_services.orders.deps import SagaDep
from new_services.orders.domain import OrderNotFound, OrderStatus
from new_services.orders.identity import own_customer
from new_services.orders.repository import OrderFilter, OrderRepository
from new_services.orders.schemas import (
    OrderCreate,
    OrderPublic,
    OrdersPage,
    OrderStatusUpdate,
)

router = APIRouter(prefix="/v2/orders", tags=["orders"])


# Every handler runs its session in one pool thread (in_session, new_services/common/deps.py): opened, used and
# closed — a dry run rolled back — by the thread that holds its connection.
@router.post("", response_model=OrderPublic, status_code=status.HTTP_201_CREATED)
async def place_order(user: CurrentUser, body: OrderCreate, saga: SagaDep, request: Request,
                      response: Response) -> OrderPublic:
    customer_id = own_customer(user, body.customer_id)
    order = await in_session(request, lambda session: OrderPublic.of(
        saga.place(session, customer_id, body.line_requests())))
    response.headers["Location"] = f"{router.prefix}/{order.id}"
    return order


@router.get("", response_model=OrdersPage)
async def list_orders(_user: CurrentUser, request: Request,
                      customer_id: Annotated[int, Query(gt=0, le=MAX_ID, description="orders of this customer")],
                      limit: Annotated[int, Query(ge=1, le=200)] = 50,
                      cursor: str | None = None,
                      status_: Annotated[OrderStatus | None, Query(alias="status")] = None) -> OrdersPage:
    after = decode_cursor(cursor) if cursor else None

    def page(session: Session) -> OrdersPage:
        orders = OrderRepository(session).page_after(OrderFilter(customer_id=customer_id, status=status_), after,
                                                     limit + 1)
        has_more = len(orders) > limit
        orders = orders[:limit]
        next_cursor = encode_cursor(orders[-1].id) if has_more and orders[-1].id is not None else None
        return OrdersPage(items=[OrderPublic.of(o) for o in orders], next_cursor=next_cursor)

    return await in_session(request, page)


@router.get("/{order_id}", response_model=OrderPublic)
async def get_order(_user: CurrentUser, order_id: IdPath, request: Request) -> OrderPublic:
    def one(session: Session) -> OrderPublic:
        order = OrderRepository(session).get(order_id)
        if order is None:
            raise OrderNotFound(order_id)
        return OrderPublic.of(order)

    return await in_session(request, one)


@router.post("/{order_id}/cancel", response_model=OrderPublic)
async def cancel_order(_user: CurrentUser, order_id: IdPath, saga: SagaDep, request: Request) -> OrderPublic:
    return await in_session(request, lambda session: OrderPublic.of(saga.cancel(session, order_id)))


@router.post("/{order_id}/status", response_model=OrderPublic)
async def change_status(_user: CurrentUser, order_id: IdPath, body: OrderStatusUpdate, saga: SagaDep,
                        request: Request) -> OrderPublic:
    target = OrderStatus(body.status)
    return await in_session(request, lambda session: OrderPublic.of(saga.transition(session, order_id, target)))
