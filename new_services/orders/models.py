"""The orders service's own schema — designed for the new domain, not a copy of ORDERS/ORD_LINES.

Money as integer minor units, status as an enum, UTC timestamps, the reservation id per line (the handle
that lets a cancel release exactly the stock this order holds), and an outbox of releases still owed to the
inventory system (compensations that could not be delivered yet are never forgotten).
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from new_services.common.types import UTCDateTime
from new_services.orders.domain import OrderStatus

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "pk": "pk_%(table_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    __table__: ClassVar[Table]  # (declared as a FromClause: every model here maps one Table)


class OrderRecord(Base):
    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("total_minor >= 0", name="total_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, name="order_status"), index=True)
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")


class OrderLineRecord(Base):
    __tablename__ = "order_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),
                      CheckConstraint("unit_price_minor >= 0", name="price_not_negative"))

    order_id: Mapped[int] = mapped_column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, index=True)
    warehouse: Mapped[str] = mapped_column(String(4))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    reservation_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)


class PendingRelease(Base):
    """A reservation the inventory system still has to release (compensation not delivered yet)."""

    __tablename__ = "pending_releases"

    reservation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class OrderIdCounter(Base):
    """The next id for orders placed here: allocated from ORDERS_ID_START up, so they never clash with the
    ids the monolith keeps handing out while both sides take orders (backfilled legacy ids stay as they are)."""

    __tablename__ = "order_id_counter"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_id: Mapped[int] = mapped_column(BigInteger)


class OwedStockOp(Base):
    """Outbox of inventory operations keyed by their idempotency reference: releases of stock reserved
    before migration (kind release-untracked), and reservations whose outcome is unknown because the answer
    was lost (kind resolve-reservation: look the reference up, release what it reserved)."""

    __tablename__ = "owed_stock_ops"

    reference: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    product_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    warehouse: Mapped[str | None] = mapped_column(String(4), nullable=True)
    quantity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: set when the inventory system definitely refused it: kept for an operator, no longer retried
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class ConsumedLine(Base):
    """A line whose stock left the warehouse (consumed) during shipping, recorded as each consume succeeds,
    so an interrupted shipment resumes where it stopped and cannot be cancelled behind its back."""

    __tablename__ = "consumed_lines"

    order_id: Mapped[int] = mapped_column(Integer, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumed_at: Mapped[datetime] = mapped_column(UTCDateTime)


orders_table = OrderRecord.__table__
order_lines_table = OrderLineRecord.__table__
