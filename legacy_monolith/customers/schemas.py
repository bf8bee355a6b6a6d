"""Customer request DTOs and the legacy JSON shape of a customer."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from legacy_monolith.customers.models import Customer
from legacy_monolith.validation import Flag, LegacyBody, PageQuery

EmailText = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
NameText = Annotated[str, Field(min_length=1, max_length=60)]
PhoneText = Annotated[str, Field(min_length=3, max_length=30, pattern=r"^[0-9+() -]+$")]
PasswordText = Annotated[str, Field(min_length=8, max_length=128)]


class CustomerCreate(LegacyBody):
    Email: EmailText
    FirstName: NameText
    LastName: NameText
    Phone: PhoneText | None = None
    Vip: Flag = "N"
    Password: PasswordText | None = None  # optional: a customer without one cannot log in


class CustomerUpdate(LegacyBody):
    Email: EmailText | None = None
    FirstName: NameText | None = None
    LastName: NameText | None = None
    Phone: PhoneText | None = None
    Vip: Flag | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> CustomerUpdate:
        if not self.model_fields_set:
            raise ValueError("send at least one of Email, FirstName, LastName, Phone, Vip")
        return self


class CustomerQuery(PageQuery):
    email: str | None = Field(None, max_length=254)
    vip: Flag | None = None


def customer_json(customer: Customer) -> dict[str, Any]:
    return {
        "CustomerId": customer.id,
        "Email": customer.email,
        "FirstName": customer.first_name,
        "LastName": customer.last_name,
        "Phone": customer.phone,
        "Vip": customer.vip,
        "Created": customer.created,
    }
