"""Tables owned by the orders module. ORD_TOT is a float: a legacy quirk the ACL has to live with."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CHAR, CheckConstraint, Float, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, relationship

from legacy_monolith.db import LEGACY_TABLE, Base, column, own_ids_below_ceiling


class Order(Base):
    __tablename__ = "ORDERS"
    __table_args__ = (CheckConstraint("ORD_STS IN ('N', 'P', 'S', 'D', 'C')", name="ck_orders_sts"),
                      LEGACY_TABLE)

    id: Mapped[int] = column("ORD_ID", Integer, primary_key=True)
    customer_id: Mapped[int] = column("CUST_ID", Integer, ForeignKey("CUSTOMERS.CUST_ID"), index=True)
    status: Mapped[str] = column("ORD_STS", CHAR(1), default="N")
    ordered_at: Mapped[str] = column("ORD_DT", String(16))
    total: Mapped[float] = column("ORD_TOT", Float)
    lines: Mapped[list[OrderLine]] = relationship(order_by="OrderLine.line_no", lazy="selectin",
                                                  cascade="all, delete-orphan")


class OrderLine(Base):
    __tablename__ = "ORD_LINES"
    __table_args__ = LEGACY_TABLE

    order_id: Mapped[int] = column("ORD_ID", Integer, ForeignKey("ORDERS.ORD_ID"), primary_key=True)
    line_no: Mapped[int] = column("LN_NO", Integer, primary_key=True)
    product_id: Mapped[int] = column("PROD_ID", Integer)
    warehouse: Mapped[str] = column("WH_CD", String(4))
    quantity: Mapped[int] = column("QTY", Integer)
    unit_price: Mapped[Decimal] = column("UNIT_PRC", Numeric(10, 2))


own_ids_below_ceiling(Order)  # reverse sync copies the orders service's ids (ORDERS_ID_START up) here
