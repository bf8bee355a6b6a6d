"""The orders module's reach into other modules' tables — hand-written SQL kept from the legacy app.

Reads PRODUCTS (price, active flag); reads and updates STOCK: reserve on placement, release on cancel,
consume (on-hand and reserved) on shipping. Always inside the caller's transaction.
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from legacy_monolith.conventions import to_money
from legacy_monolith.db import rowcount

PRODUCT_SQL = text("SELECT UNIT_PRC, ACTV_FLG FROM PRODUCTS WHERE PROD_ID = :prod_id")
CANDIDATES_SQL = text("SELECT WH_CD FROM STOCK WHERE PROD_ID = :prod_id AND QTY_ON_HND - QTY_RSRVD >= :qty "
                      "ORDER BY QTY_ON_HND - QTY_RSRVD DESC, WH_CD")
RESERVE_SQL = text("UPDATE STOCK SET QTY_RSRVD = QTY_RSRVD + :qty "
                   "WHERE PROD_ID = :prod_id AND WH_CD = :wh_cd AND QTY_ON_HND - QTY_RSRVD >= :qty")
RELEASE_SQL = text("UPDATE STOCK SET QTY_RSRVD = QTY_RSRVD - :qty "
                   "WHERE PROD_ID = :prod_id AND WH_CD = :wh_cd AND QTY_RSRVD >= :qty")
CONSUME_SQL = text("UPDATE STOCK SET QTY_ON_HND = QTY_ON_HND - :qty, QTY_RSRVD = QTY_RSRVD - :qty "
                   "WHERE PROD_ID = :prod_id AND WH_CD = :wh_cd AND QTY_RSRVD >= :qty")


def product_price(session: Session, product_id: int) -> tuple[Decimal, bool] | None:
    """(unit price, active) of a product, or None when it does not exist."""
    row = session.execute(PRODUCT_SQL, {"prod_id": product_id}).first()
    return None if row is None else (to_money(row[0]), row[1] == "Y")


def reserve(session: Session, product_id: int, quantity: int) -> str | None:
    """Reserve `quantity` in one warehouse that has it; the warehouse code, or None when none has."""
    params = {"prod_id": product_id, "qty": quantity}
    for (warehouse,) in session.execute(CANDIDATES_SQL, params).all():
        if rowcount(session.execute(RESERVE_SQL, {**params, "wh_cd": warehouse})) == 1:
            return warehouse
    return None


def release(session: Session, product_id: int, warehouse: str, quantity: int) -> bool:
    return rowcount(session.execute(RELEASE_SQL, {"prod_id": product_id, "wh_cd": warehouse, "qty": quantity})) == 1


def consume(session: Session, product_id: int, warehouse: str, quantity: int) -> bool:
    return rowcount(session.execute(CONSUME_SQL, {"prod_id": product_id, "wh_cd": warehouse, "qty": quantity})) == 1
