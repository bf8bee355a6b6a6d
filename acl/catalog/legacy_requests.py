"""The legacy catalog request contract (bodies and list query), reproduced so the service validates and
words errors exactly as the monolith does, then turned into domain values.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from acl.catalog.translate import JSON_FIELDS, status_from_flag
from acl.common.envelope import LegacyApiError
from new_services.catalog.domain import CENT, PRICE_MAX, DomainError, ProductStatus
from new_services.catalog.repository import ProductFilter

MAX_PAGE_SIZE = 200
_MONEY_MESSAGE = "must be a decimal string such as '12.50'"


def _money_in(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(_MONEY_MESSAGE)
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise ValueError(_MONEY_MESSAGE) from None
    return amount  # NaN passes through: pydantic's Decimal check rejects it ("finite number"), as legacy does


def _positive(value: Decimal) -> Decimal:
    if value <= 0 or value >= Decimal("100000000"):
        raise ValueError("must be greater than 0 and less than 100000000")
    return value


MoneyT = Annotated[Decimal, BeforeValidator(_money_in), AfterValidator(_positive)]
FlagT = Literal["Y", "N"]
SkuT = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Z0-9-]+$")]
NameT = Annotated[str, Field(min_length=1, max_length=120)]
CategoryT = Annotated[str, Field(min_length=1, max_length=10, pattern=r"^[A-Z0-9_]+$")]
DescriptionT = Annotated[str, Field(max_length=4000)]


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, str_strip_whitespace=True, extra="ignore")


class ProductCreateBody(_Body):
    Sku: SkuT
    Name: NameT
    Description: DescriptionT | None = None
    Category: CategoryT
    UnitPrice: MoneyT
    Active: FlagT = "Y"

    def to_domain(self) -> dict[str, Any]:
        return {"sku": self.Sku, "name": self.Name, "description": self.Description, "category": self.Category,
                "price": self.UnitPrice, "status": status_from_flag(self.Active, "Active")}


class ProductUpdateBody(_Body):
    Sku: SkuT | None = None
    Name: NameT | None = None
    Description: DescriptionT | None = None
    Category: CategoryT | None = None
    UnitPrice: MoneyT | None = None
    Active: FlagT | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> ProductUpdateBody:
        if not self.model_fields_set:
            raise ValueError("send at least one of Sku, Name, Description, Category, UnitPrice, Active")
        return self

    def to_domain_changes(self) -> dict[str, Any]:
        """Domain field → new value, for the keys the client sent (in contract order)."""
        names = {"Sku": "sku", "Name": "name", "Description": "description", "Category": "category",
                 "UnitPrice": "price", "Active": "status"}
        changes: dict[str, Any] = {}
        for key in type(self).model_fields:
            if key not in self.model_fields_set:
                continue
            value = getattr(self, key)
            if value is None and key != "Description":
                raise LegacyApiError(400, "VALIDATION_ERROR", f"{key}: may not be null")
            changes[names[key]] = status_from_flag(value, key) if key == "Active" else value
        return changes


class ProductListQuery(BaseModel):
    page: int = Field(1, ge=1, le=1_000_000)
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE)
    category: str | None = Field(None, max_length=10)
    active: FlagT | None = None
    q: str | None = Field(None, min_length=1, max_length=120)
    min_price: Decimal | None = Field(None, ge=0)
    max_price: Decimal | None = Field(None, ge=0)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size

    def to_filter(self) -> ProductFilter:
        status = None if self.active is None else status_from_flag(self.active, "active")
        return ProductFilter(category=self.category or None, status=status, text=self.q,
                             min_price=_price_bound(self.min_price), max_price=_price_bound(self.max_price))


def _price_bound(value: Decimal | None) -> Decimal | None:
    """No price exceeds PRICE_MAX, so capping a filter just above it changes no answer — and 1e400 (legacy: an
    empty page) no longer becomes an integer the database cannot bind (OverflowError → 500)."""
    return None if value is None else min(value, PRICE_MAX + CENT)


def domain_error(exc: DomainError) -> LegacyApiError:
    """A domain rule the legacy contract does not check itself, worded like a legacy validation error."""
    return LegacyApiError(400, "VALIDATION_ERROR", f"{JSON_FIELDS.get(exc.field, exc.field)}: {exc.reason}")


__all__ = ["ProductCreateBody", "ProductListQuery", "ProductStatus", "ProductUpdateBody", "domain_error"]
