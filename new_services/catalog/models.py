"""The catalog service's own schema — designed for the new domain, not a copy of the legacy table.

Money as integer minor units plus currency (exact arithmetic, no float), status as an enum, UTC timestamps.
"""
from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Enum,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from new_services.catalog.domain import ProductStatus
from new_services.common.types import UTCDateTime

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s", "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    __table__: ClassVar[Table]  # (declared as a FromClause: every model here maps one Table)


class ProductRecord(Base):
    __tablename__ = "products"
    __table_args__ = (CheckConstraint("price_minor >= 0", name="price_not_negative"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    category: Mapped[str] = mapped_column(String(10), index=True)
    price_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    status: Mapped[ProductStatus] = mapped_column(
        Enum(ProductStatus, native_enum=False, length=10, values_callable=lambda e: [m.value for m in e],
             validate_strings=True, name="product_status"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


products_table = ProductRecord.__table__


class ProductIdCounter(Base):
    """The next id for products created here: allocated from CATALOG_ID_START up (new_services.common.id_range),
    so they never clash with the ids the monolith keeps handing out (backfilled legacy ids stay as they are)."""

    __tablename__ = "product_id_counter"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_id: Mapped[int] = mapped_column(BigInteger)
