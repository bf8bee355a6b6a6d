"""Column and parameter types shared by service schemas and routers."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; on SQLite (no zone support) stored as naive UTC and read back aware.

    Why: the domain only ever sees aware UTC datetimes, whatever the database does with zones.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; services store aware UTC datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: Ids are INTEGER columns (32-bit signed on PostgreSQL, as in the monolith): a larger one cannot exist, and
#: binding it raises OverflowError (SQLite, beyond 64 bits) or "integer out of range" (PostgreSQL) — a 500.
MAX_ID = 2**31 - 1
#: An id in a /v2 path: out of range is a 422 problem before any query runs.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
