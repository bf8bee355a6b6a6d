"""Tables owned by the customers module."""
from __future__ import annotations

from sqlalchemy import CHAR, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped

from legacy_monolith.db import LEGACY_TABLE, Base, column


class Customer(Base):
    __tablename__ = "CUSTOMERS"
    __table_args__ = (CheckConstraint("VIP_FLG IN ('Y', 'N')", name="ck_customers_vip_flg"), LEGACY_TABLE)

    id: Mapped[int] = column("CUST_ID", Integer, primary_key=True)
    email: Mapped[str] = column("CUST_EMAIL", String(254), unique=True)
    first_name: Mapped[str] = column("CUST_FNM", String(60))
    last_name: Mapped[str] = column("CUST_LNM", String(60))
    phone: Mapped[str | None] = column("CUST_PHONE", String(30), nullable=True)
    vip: Mapped[str] = column("VIP_FLG", CHAR(1), default="N")
    created: Mapped[str] = column("CRT_DT", String(16))
    # werkzeug password hash; NULL = cannot log in (customers created without a Password). Never serialised.
    password_hash: Mapped[str | None] = column("PWD_HASH", String(255), nullable=True)
