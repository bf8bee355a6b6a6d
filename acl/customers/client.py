"""CustomerDirectory adapter over the monolith's GET /api/customers/{id} (tolerant reader).

Why over HTTP: the customers module stays in the monolith and owns CUSTOMERS; its API is the contract.
"""
from __future__ import annotations

from acl.common.errors import TranslationError
from acl.common.legacy_client import (
    LegacyClient,
    LegacyRejected,
    LegacyUnavailable,
    field,
)
from new_services.orders.domain import CustomerNotFound, DependencyUnavailable


class LegacyCustomerDirectory(LegacyClient):
    def ensure_exists(self, customer_id: int) -> None:
        try:
            payload = self.get_json(f"/api/customers/{customer_id}")
            found = field(payload, "CustomerId", source="legacy customer answer")
        except LegacyRejected as exc:
            if exc.status == 404:
                raise CustomerNotFound(customer_id) from None
            raise DependencyUnavailable("customers", str(exc)) from None
        except (LegacyUnavailable, TranslationError) as exc:
            raise DependencyUnavailable("customers", str(exc)) from None
        if found != customer_id:
            raise DependencyUnavailable("customers", f"asked for customer {customer_id}, got {found!r}")
