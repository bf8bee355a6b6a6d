"""Tables owned by the catalog module."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import CHAR, CheckConstraint, Connection, Integer, Numeric, String, Text, event, func, select
from sqlalchemy.orm import Mapped

from legacy_monolith.db import ID_CEILING_OPTION, LEGACY_TABLE, Base, column


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


@event.listens_for(Product, "before_insert")
def _own_id_below_ceiling(_mapper: Any, connection: Connection, product: Product) -> None:
    """SQLite only: a new PROD_ID is the highest id BELOW the id ceiling plus one, not SQLite's max(rowid) + 1,
    which would jump into the catalog service's range once reverse sync has copied a service product here.
    (PostgreSQL's serial sequence is not moved by explicit inserts.) Writes hold BEGIN IMMEDIATE: no race."""
    ceiling = connection.get_execution_options().get(ID_CEILING_OPTION)
    if product.id is not None or ceiling is None or connection.dialect.name != "sqlite":
        return
    highest = connection.scalar(select(func.max(Product.id)).where(Product.id < ceiling)) or 0
    if highest + 1 >= ceiling:
        raise RuntimeError(f"PRODUCTS: no ProductId left below LEGACY_ID_CEILING={ceiling}")
    product.id = highest + 1
