"""Order aggregate invariants and the status rules, in the domain (no framework, no legacy names)."""
from datetime import UTC, datetime, timezone
from decimal import Decimal

import pytest

from new_services.orders.domain import (
    InvalidOrder,
    InvalidTransition,
    Order,
    OrderLine,
    OrderStatus,
)

NOW = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)


def line(no: int = 1, **changes) -> OrderLine:
    values = {"line_no": no, "product_id": 7, "warehouse": "LON1", "quantity": 2,
              "unit_price": Decimal("12.50"), "reservation_id": 100 + no}
    values.update(changes)
    return OrderLine(**values)


def order(status: OrderStatus = OrderStatus.PENDING, lines: tuple[OrderLine, ...] | None = None) -> Order:
    return Order(id=1, customer_id=3, status=status, placed_at=NOW, lines=lines or (line(1), line(2)))


def test_total_is_exact_sum_of_lines() -> None:
    placed = order(lines=(line(1, quantity=3, unit_price=Decimal("0.10")), line(2, unit_price=Decimal("19.99"))))
    assert placed.total == Decimal("40.28")
    assert placed.reservation_ids == [101, 102]


def test_place_starts_pending_in_utc() -> None:
    local = datetime(2024, 5, 1, 14, 30, tzinfo=timezone(__import__("datetime").timedelta(hours=2)))
    placed = Order.place(customer_id=3, lines=(line(),), now=local)
    assert placed.status is OrderStatus.PENDING and placed.id is None
    assert placed.placed_at == NOW and placed.placed_at.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(("changes", "field"), [
    ({"quantity": 0}, "quantity"), ({"quantity": 100_001}, "quantity"), ({"quantity": True}, "quantity"),
    ({"unit_price": Decimal("-0.01")}, "unit_price"), ({"unit_price": Decimal("1.001")}, "unit_price"),
    ({"unit_price": 1.5}, "unit_price"), ({"unit_price": Decimal("NaN")}, "unit_price"),
    ({"warehouse": ""}, "warehouse"), ({"warehouse": "LONDON"}, "warehouse"),
    ({"product_id": 0}, "product_id"), ({"reservation_id": -1}, "reservation_id"), ({"line_no": 0}, "line_no"),
])
def test_invalid_lines_are_refused(changes: dict, field: str) -> None:
    with pytest.raises(InvalidOrder) as caught:
        line(**changes)
    assert caught.value.field == field


def test_order_invariants() -> None:
    with pytest.raises(InvalidOrder, match="lines"):
        Order(id=1, customer_id=3, status=OrderStatus.PENDING, placed_at=NOW, lines=())
    with pytest.raises(InvalidOrder, match="lines"):
        order(lines=(line(2), line(1)))
    with pytest.raises(InvalidOrder, match="lines"):
        order(lines=(line(1), line(1)))
    with pytest.raises(InvalidOrder, match="lines"):
        order(lines=tuple(line(i) for i in range(1, 52)))
    with pytest.raises(InvalidOrder, match="placed_at"):
        Order(id=1, customer_id=3, status=OrderStatus.PENDING, placed_at=NOW.replace(tzinfo=None), lines=(line(),))
    with pytest.raises(InvalidOrder, match="customer_id"):
        Order(id=1, customer_id=0, status=OrderStatus.PENDING, placed_at=NOW, lines=(line(),))
    with pytest.raises(InvalidOrder, match="status"):
        Order(id=1, customer_id=1, status="N", placed_at=NOW, lines=(line(),))  # type: ignore[arg-type]


def test_forward_transitions_one_step_at_a_time() -> None:
    current = order()
    for target in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED):
        current = current.advance_to(target)
        assert current.status is target
    with pytest.raises(InvalidTransition, match="no further status change"):
        current.advance_to(OrderStatus.PAID)


@pytest.mark.parametrize(("start", "target"), [
    (OrderStatus.PENDING, OrderStatus.SHIPPED), (OrderStatus.PENDING, OrderStatus.DELIVERED),
    (OrderStatus.PAID, OrderStatus.PAID), (OrderStatus.SHIPPED, OrderStatus.PAID),
    (OrderStatus.CANCELLED, OrderStatus.PAID), (OrderStatus.PENDING, OrderStatus.CANCELLED),
])
def test_other_moves_are_refused(start: OrderStatus, target: OrderStatus) -> None:
    with pytest.raises(InvalidTransition):
        order(start).advance_to(target)


@pytest.mark.parametrize("start", [OrderStatus.PENDING, OrderStatus.PAID])
def test_pending_and_paid_orders_can_be_cancelled(start: OrderStatus) -> None:
    cancelled = order(start).cancel()
    assert cancelled.status is OrderStatus.CANCELLED and not cancelled.holds_stock


@pytest.mark.parametrize("start", [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED])
def test_later_orders_cannot_be_cancelled(start: OrderStatus) -> None:
    with pytest.raises(InvalidTransition, match="only pending or paid"):
        order(start).cancel()
