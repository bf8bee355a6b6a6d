"""Tables owned by the inventory module. The database itself refuses negative availability.

STOCK_RSV also records, with status R or C, the release or consumption of stock that the legacy orders
module reserved without a reservation row (the "untracked" operations): the row carries the caller's
reference, which makes those operations idempotent too.
"""
from __future__ import annotations

from sqlalchemy import CHAR, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped

from legacy_monolith.db import LEGACY_TABLE, Base, column

#: A active, R released, C consumed (shipped: on-hand and reserved both went down)
RESERVATION_STATUSES = ("A", "R", "C")
STATUS_SQL = ", ".join(f"'{s}'" for s in RESERVATION_STATUSES)
REFERENCE_MAX = 64
REFERENCE_WAREHOUSES = (("LON1", "London Park Royal"), ("MAN1", "Manchester Trafford"),
                        ("EDI1", "Edinburgh Sighthill"))


class Warehouse(Base):
    __tablename__ = "WAREHOUSES"
    __table_args__ = LEGACY_TABLE

    code: Mapped[str] = column("WH_CD", String(4), primary_key=True)
    name: Mapped[str] = column("WH_NM", String(60))


class Stock(Base):
    __tablename__ = "STOCK"
    __table_args__ = (
        CheckConstraint("QTY_RSRVD >= 0 AND QTY_ON_HND >= QTY_RSRVD", name="ck_stock_available"),
        LEGACY_TABLE,
    )

    product_id: Mapped[int] = column("PROD_ID", Integer, ForeignKey("PRODUCTS.PROD_ID"), primary_key=True)
    warehouse: Mapped[str] = column("WH_CD", String(4), ForeignKey("WAREHOUSES.WH_CD"), primary_key=True)
    on_hand: Mapped[int] = column("QTY_ON_HND", Integer, default=0)
    reserved: Mapped[int] = column("QTY_RSRVD", Integer, default=0)


class Reservation(Base):
    __tablename__ = "STOCK_RSV"
    __table_args__ = (CheckConstraint(f"RSV_STS IN ({STATUS_SQL})", name="ck_stock_rsv_sts"), LEGACY_TABLE)

    id: Mapped[int] = column("RSV_ID", Integer, primary_key=True)
    product_id: Mapped[int] = column("PROD_ID", Integer)
    warehouse: Mapped[str] = column("WH_CD", String(4))
    quantity: Mapped[int] = column("QTY", Integer)
    status: Mapped[str] = column("RSV_STS", CHAR(1), default="A")
    created: Mapped[str] = column("CRT_DT", String(16))
    #: the caller's idempotency key (nullable: rows from before it existed have none); unique, so one key
    #: can never reserve twice
    reference: Mapped[str | None] = column("RSV_REF", String(REFERENCE_MAX), unique=True, nullable=True)
