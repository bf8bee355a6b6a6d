"""Reusable request-field types for the legacy DTOs (pydantic 2)."""
from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt
from werkzeug.routing import IntegerConverter

from legacy_monolith.conventions import to_money

MAX_PAGE_SIZE = 200
#: Ids are INTEGER columns (32-bit signed on PostgreSQL): a larger one cannot exist, and binding it would raise
#: OverflowError (SQLite, beyond 64 bits) or "integer out of range" (PostgreSQL) — a 500 instead of a 4xx.
MAX_ID = 2**31 - 1


def _money_in(value: object) -> object:
    """Accept '12.50' (legacy clients) or a JSON number; reject bools and anything non-numeric."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("must be a decimal string such as '12.50'")
    try:
        return to_money(value)
    except ValueError:
        raise ValueError("must be a decimal string such as '12.50'") from None


def _positive_money(value: Decimal) -> Decimal:
    if value <= 0 or value >= Decimal("100000000"):
        raise ValueError("must be greater than 0 and less than 100000000")
    return value


Money = Annotated[Decimal, BeforeValidator(_money_in), AfterValidator(_positive_money)]
Id = Annotated[StrictInt, Field(gt=0, le=MAX_ID)]
QueryId = Annotated[int, Field(gt=0, le=MAX_ID)]  # an id filter in the query string (a string, so lax)
Quantity = Annotated[StrictInt, Field(gt=0, le=100_000)]
Flag = Literal["Y", "N"]


class LegacyBody(BaseModel):
    """Request bodies: strict types, unknown keys ignored (legacy clients send extras), strings stripped."""
    model_config = ConfigDict(strict=True, str_strip_whitespace=True, extra="ignore")


class PageQuery(BaseModel):
    """page/page_size query parameters (strings in the URL, so lax parsing)."""
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


class IdConverter(IntegerConverter):
    """`<id:name>` in a route: digits up to MAX_ID, else the route does not match (404 NOT_FOUND, like
    '/api/products/abc' or '-1'). One rule for every id in a path, checked before any view runs."""

    def __init__(self, map, *args, **kwargs) -> None:  # werkzeug's signature
        super().__init__(map, *args, **{**kwargs, "max": MAX_ID})
