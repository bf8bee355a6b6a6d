"""Catalog domain model: a Product and the rules it always satisfies. No framework, no legacy names.

Why invariants live here (not in the API schemas): every way into the model — native API, legacy API,
backfill — must hit the same rules, so bad data cannot enter by a side door.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

SKU_PATTERN = re.compile(r"^(?=.*[A-Z0-9])[A-Z0-9-]{1,20}$")
CATEGORY_PATTERN = re.compile(r"^[A-Z0-9_]{1,10}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
NAME_MAX = 120
DESCRIPTION_MAX = 4000
PRICE_MAX = Decimal("99999999.99")
CENT = Decimal("0.01")


class ProductStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class DomainError(ValueError):
    """A value breaks a catalog rule: `field` (domain name), the offending `value`, and the `reason`."""

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field, self.value, self.reason = field, value, reason
        super().__init__(f"{field}: {reason}")


class ProductNotFound(LookupError):
    def __init__(self, product_id: int) -> None:
        super().__init__(f"product {product_id} does not exist")
        self.product_id = product_id


class DuplicateSku(ValueError):
    def __init__(self, sku: str) -> None:
        super().__init__(f"SKU {sku} is already used by another product")
        self.sku = sku


def utcnow() -> datetime:
    return datetime.now(UTC)


def _check_price(price: Any) -> None:
    if not isinstance(price, Decimal) or not price.is_finite():
        raise DomainError("price", price, "must be a finite Decimal amount")
    if price < 0:
        raise DomainError("price", price, "must not be negative")
    if price > PRICE_MAX:
        raise DomainError("price", price, f"must not exceed {PRICE_MAX}")
    if price != price.quantize(CENT):
        raise DomainError("price", price, "must have at most 2 decimal places")


def _check_text(field: str, value: Any, maximum: int) -> None:
    if not isinstance(value, str) or not value.strip():
        raise DomainError(field, value, "must not be empty")
    if len(value) > maximum:
        raise DomainError(field, value, f"must be at most {maximum} characters")


#: category / currency codes (exact str) seen in Products that passed every rule — few distinct values, so
#: Product's fast path tests membership instead of a regex; bounded, so odd data cannot grow them forever
_VALID_CATEGORIES: set[str] = set()
_VALID_CURRENCIES: set[str] = set()
_VALID_CODES_MAX = 1024


def _remember_codes(category: str, currency: str) -> None:
    """Called only after a Product passed every rule, so both codes are known valid."""
    if type(category) is str and len(_VALID_CATEGORIES) < _VALID_CODES_MAX:
        _VALID_CATEGORIES.add(category)
    if type(currency) is str and len(_VALID_CURRENCIES) < _VALID_CODES_MAX:
        _VALID_CURRENCIES.add(currency)


@dataclass(frozen=True, slots=True)
class Product:
    """A sellable item. Immutable: changes return a new Product (id None until stored)."""

    id: int | None
    sku: str
    name: str
    description: str | None
    category: str
    price: Decimal
    status: ProductStatus
    created_at: datetime
    updated_at: datetime
    currency: str = "GBP"

    def __post_init__(self) -> None:
        # Fast path (backfills build millions of Products): exact built-in types holding plainly valid values
        # pass here; anything else — every rejection included — goes through the full rules below.
        price, created, updated = self.price, self.created_at, self.updated_at
        if ((self.id is None or (type(self.id) is int and self.id >= 1))
                and type(self.sku) is str and SKU_PATTERN.fullmatch(self.sku) is not None
                and type(self.name) is str and len(self.name) <= NAME_MAX and self.name.strip() != ""
                and (self.description is None
                     or (type(self.description) is str and len(self.description) <= DESCRIPTION_MAX))
                and type(self.category) is str and self.category in _VALID_CATEGORIES
                and type(price) is Decimal and price.is_finite() and 0 <= price <= PRICE_MAX
                and price == price.quantize(CENT)
                and type(self.currency) is str and self.currency in _VALID_CURRENCIES
                and type(self.status) is ProductStatus
                and type(created) is datetime and created.tzinfo is UTC
                and type(updated) is datetime and updated.tzinfo is UTC):
            return
        self._check_rules()

    def _check_rules(self) -> None:
        if self.id is not None and (isinstance(self.id, bool) or not isinstance(self.id, int) or self.id < 1):
            raise DomainError("id", self.id, "must be a positive integer")
        if not isinstance(self.sku, str) or not SKU_PATTERN.fullmatch(self.sku):
            raise DomainError("sku", self.sku,
                              "must be 1-20 characters of A-Z, 0-9 and '-' with at least one letter or digit")
        _check_text("name", self.name, NAME_MAX)
        if self.description is not None and (not isinstance(self.description, str)
                                             or len(self.description) > DESCRIPTION_MAX):
            raise DomainError("description", self.description,
                              f"must be text of at most {DESCRIPTION_MAX} characters or absent")
        if not isinstance(self.category, str) or not CATEGORY_PATTERN.fullmatch(self.category):
            raise DomainError("category", self.category, "must be a 1-10 character code of A-Z, 0-9 and '_'")
        _check_price(self.price)
        if not isinstance(self.currency, str) or not CURRENCY_PATTERN.fullmatch(self.currency):
            raise DomainError("currency", self.currency, "must be an ISO 4217 code such as GBP")
        if not isinstance(self.status, ProductStatus):
            raise DomainError("status", self.status, "must be 'active' or 'inactive'")
        for name in ("created_at", "updated_at"):
            moment = getattr(self, name)
            if not isinstance(moment, datetime) or moment.utcoffset() is None:
                raise DomainError(name, moment, "must be a time-zone-aware datetime")
        _remember_codes(self.category, self.currency)

    @property
    def is_active(self) -> bool:
        return self.status is ProductStatus.ACTIVE

    @classmethod
    def create(cls, *, sku: str, name: str, category: str, price: Decimal, description: str | None = None,
               status: ProductStatus = ProductStatus.ACTIVE, currency: str = "GBP",
               now: datetime | None = None) -> Product:
        moment = (now or utcnow()).astimezone(UTC)
        return cls(id=None, sku=sku, name=name, description=description, category=category, price=price,
                   status=status, created_at=moment, updated_at=moment, currency=currency)

    def revise(self, now: datetime | None = None, **changes: Any) -> Product:
        """A copy with `changes` applied (re-validated) and updated_at moved to now."""
        allowed = {"sku", "name", "description", "category", "price", "status", "currency"}
        unknown = set(changes) - allowed
        if unknown:
            raise DomainError(sorted(unknown)[0], None, "cannot be changed")
        return dataclasses.replace(self, **changes, updated_at=(now or utcnow()).astimezone(UTC))

    def deactivate(self, now: datetime | None = None) -> Product:
        return self.revise(now, status=ProductStatus.INACTIVE)

    def stored_as(self, product_id: int) -> Product:
        return dataclasses.replace(self, id=product_id)
