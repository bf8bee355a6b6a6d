"""Orders service settings (env): ORDERS_DATABASE_URL, ORDERS_ID_START, the monolith's URL and the products API
URL."""
from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr, field_validator
from strangler_app.identity import KEY_ENV as IDENTITY_KEY_ENV
from strangler_app.identity import MIN_KEY_CHARS

from new_services.common.settings import IdRangeSettings, ServiceSettings, id_start_field, load_settings

ID_START_ENV = "ORDERS_ID_START"


class OrdersIdRange(IdRangeSettings):
    """ORDERS_ID_START alone: the data migration (acl.orders.mapping) reads it without the service's secrets."""

    id_start: int = id_start_field(
        ID_START_ENV, "first id for orders placed by the service; must be above any id the monolith will ever "
                      "hand out, so both sides can take orders at the same time (backfilled ids are kept)")


class OrdersSettings(ServiceSettings, OrdersIdRange):
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("ORDERS_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of the orders database, e.g. sqlite:///var/orders.db or "
                    "postgresql+psycopg://user@127.0.0.1/orders")
    catalog_api_url: str | None = Field(
        None, validation_alias=AliasChoices("CATALOG_API_URL", "catalog_api_url"),
        description="base URL of the legacy-compatible products API used for prices (default: LEGACY_BASE_URL)")
    uncertain_window_s: float = Field(
        300.0, gt=0, validation_alias=AliasChoices("ORDERS_UNCERTAIN_WINDOW_S", "uncertain_window_s"),
        description="how long a reservation whose answer was lost is looked for before it counts as never made "
                    "(longer than the monolith's worker timeout)")
    identity_key: SecretStr = Field(
        validation_alias=AliasChoices(IDENTITY_KEY_ENV, "identity_key"),
        description="HMAC key of the façade's signed X-Strangler-Identity header (who is logged in); no default: "
                    "the same value as the façade's (config/stack.yaml generates it per install)")
    test_faults: bool = Field(
        False, validation_alias=AliasChoices("ORDERS_TEST_FAULTS", "test_faults"),
        description="test-only: honour the X-Orders-Test-Fault header (never enable in production)")

    @field_validator("identity_key")
    @classmethod
    def _identity_key_long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_KEY_CHARS:
            raise ValueError(f"must be at least {MIN_KEY_CHARS} characters")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir}/orders.db"

    @property
    def resolved_catalog_url(self) -> str:
        return self.catalog_api_url or self.legacy_base_url


def get_orders_settings(**overrides: object) -> OrdersSettings:
    return load_settings(OrdersSettings, **overrides)


def get_orders_id_start() -> int:
    return load_settings(OrdersIdRange).id_start
