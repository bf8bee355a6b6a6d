"""Tables owned by the catalog module."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CHAR, CheckConstraint, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped

from legacy_monolith.db import LEGACY_TABLE, Base, column, own_ids_below_ceiling


class Product(Base):
    __tablename__ = "PRODUCTS"
    __table_args__ = (CheckConstraint("ACTV_FLG IN ('Y', 'N')", name="ck_products_actv_flg"), LEGACY_TABLE)

    id: Mapped[int] = column("PROD_ID", Integer, primary_key=True)
    sku: Mapped[str] = column("PROD_SKU", String(20), unique=True)
    name: Mapped[str] = column("PROD_NM", String(120))
    description: Mapped[str | None] = column("PROD_DESC", Text, nullable=True)
    category: Mapped[str] = column("CAT_CD", String(10), index=True)
    unit_price: Mapped[Decimal] = column("UNIT_PRC", Numeric(10, 2))
    active: Mapped[str] = column("ACTV_FLG", CHAR(1), default="Y")
    created: Mapped[str] = column("CRT_DT", String(16))
    updated: Mapped[str] = column("UPD_DT", String(16))


own_ids_below_ceiling(Product)
