"""Order ids from the service's own range, and the outbox that settles reservations whose answer was lost —
on a real SQLite database, with a recording stand-in for the inventory system (the collaborator, not the
part under test)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from new_services.common.db import Database
from new_services.orders.domain import (
    DependencyUnavailable,
    Order,
    OrderLine,
    OrderStatus,
)
from new_services.orders.models import Base
from new_services.orders.outbox import StockOutbox
from new_services.orders.ports import Reservation
from new_services.orders.repository import OrderRepository, ensure_id_counter


@dataclass
class RecordingInventory:
    """Answers `find` from a dict; records releases; can be made unreachable."""
    reservations: dict[str, Reservation] = field(default_factory=dict)
    released: list[int] = field(default_factory=list)
    down: bool = False

    def find(self, reference: str) -> Reservation | None:
        if self.down:
            raise DependencyUnavailable("inventory", "down")
        return self.reservations.get(reference)

    def release(self, reservation_id: int) -> None:
        if self.down:
            raise DependencyUnavailable("inventory", "down")
        self.released.append(reservation_id)


@pytest.fixture
def database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'orders.db'}")
    Base.metadata.create_all(db.engine)
    yield db
    db.dispose()


def _order(order_id: int | None = None) -> Order:
    line = OrderLine(line_no=1, product_id=1, warehouse="LON1", quantity=1, unit_price=Decimal("1.00"))
    return Order(id=order_id, customer_id=1, status=OrderStatus.PENDING, placed_at=datetime.now(UTC), lines=(line,))


def test_ids_come_from_the_service_range_and_backfilled_ids_are_kept(database: Database) -> None:
    with database.session() as session:
        repo = OrderRepository(session)
        repo.add(_order(7))  # a backfilled legacy order keeps its id
        assert ensure_id_counter(session, 100) == 100
        assert [repo.add(_order(), id_start=100).id for _ in range(2)] == [100, 101]
        session.commit()
        assert repo.add(_order(), id_start=500).id == 500  # ORDERS_ID_START raised: jump, never reuse
        assert repo.add(_order(), id_start=500).id == 501
        assert repo.add(_order(8)).id == 8
        session.commit()
    with database.session() as session:
        assert ensure_id_counter(session, 100) == 502  # restart: continues after the highest id in the range


def test_lost_reservation_is_released_when_found_and_kept_while_missing(database: Database) -> None:
    inventory = RecordingInventory({"ref-found": Reservation(id=41, product_id=1, warehouse="LON1", quantity=2)})
    outbox = StockOutbox(inventory, database, uncertain_window_s=3600)  # type: ignore[arg-type]
    outbox.compensate([], ["ref-found", "ref-missing"], reason="test")
    assert inventory.released == [41]
    with database.session() as session:
        assert [op.reference for op in OrderRepository(session).owed_ops()] == ["ref-missing"]
    assert outbox.drain() == 1  # still not there, still inside the window: kept
    inventory.reservations["ref-missing"] = Reservation(id=42, product_id=1, warehouse="LON1", quantity=1)
    assert outbox.drain() == 0 and inventory.released == [41, 42]  # it arrived late: released
    with database.session() as session:
        assert OrderRepository(session).owed_ops() == []


def test_missing_reservation_is_given_up_after_the_window_and_outages_keep_it(database: Database) -> None:
    inventory = RecordingInventory(down=True)
    outbox = StockOutbox(inventory, database, uncertain_window_s=3600)  # type: ignore[arg-type]
    outbox.compensate([5], ["ref-never"], reason="test")
    with database.session() as session:
        repo = OrderRepository(session)
        assert (repo.owed_releases(), [op.reference for op in repo.owed_ops()]) == ([5], ["ref-never"])
    inventory.down = False
    expired = StockOutbox(inventory, database, uncertain_window_s=1e-6)  # type: ignore[arg-type]
    assert expired.drain() == 0 and inventory.released == [5]
    with database.session() as session:
        assert OrderRepository(session).owed_ops() == [] and OrderRepository(session).owed_releases() == []
    dry = StockOutbox(inventory, database, dry_run=True)  # type: ignore[arg-type]
    dry.compensate([], [], reason="nothing")
    assert dry.drain() == 0
