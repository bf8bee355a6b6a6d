"""PriceSource adapter over the legacy-compatible GET /api/products/{id} (the monolith today; the façade may
route it to the catalog service later — same contract). Tolerant reader: only UnitPrice and Active."""
from __future__ import annotations

from acl.common.conventions import flag_to_bool, legacy_money_to_decimal
from acl.common.errors import TranslationError
from acl.common.legacy_client import (
    LegacyClient,
    LegacyRejected,
    LegacyUnavailable,
    field,
)
from new_services.orders.domain import DependencyUnavailable, ProductNotFound
from new_services.orders.ports import PriceQuote


class LegacyProductPrices(LegacyClient):
    def quote(self, product_id: int, index: int) -> PriceQuote:
        try:
            payload = self.get_json(f"/api/products/{product_id}")
            price = field(payload, "UnitPrice", source="legacy product answer")
            if not isinstance(price, str):
                raise TranslationError("UnitPrice", price, "expected a decimal string such as '12.50'")
            return PriceQuote(product_id=product_id, unit_price=legacy_money_to_decimal(price, "UnitPrice"),
                              active=flag_to_bool(field(payload, "Active", source="legacy product answer"),
                                                  "Active"))
        except LegacyRejected as exc:
            if exc.status == 404:
                raise ProductNotFound(product_id, index) from None
            raise DependencyUnavailable("catalog", str(exc)) from None
        except (LegacyUnavailable, TranslationError) as exc:
            raise DependencyUnavailable("catalog", str(exc)) from None
