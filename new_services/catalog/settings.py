"""Catalog service settings (env): CATALOG_DATABASE_URL, CATALOG_ID_START plus the shared service settings."""
from __future__ import annotations

from pydantic import AliasChoices, Field

from new_services.common.settings import DEFAULT_ID_START as DEFAULT_ID_START  # re-exported: tests
from new_services.common.settings import IdRangeSettings, ServiceSettings, id_start_field, load_settings

ID_START_ENV = "CATALOG_ID_START"


class CatalogIdRange(IdRangeSettings):
    """CATALOG_ID_START alone: the data migration (acl.catalog.mapping) reads it without the service's secrets."""

    id_start: int = id_start_field(
        ID_START_ENV, "first ProductId for products created by the service; must stay above every id the "
                      "monolith hands out, so both sides can create products at the same time (backfilled ids "
                      "are kept)")


class CatalogSettings(ServiceSettings, CatalogIdRange):
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("CATALOG_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of the catalog database, e.g. sqlite:///var/catalog.db or "
                    "postgresql+psycopg://user@127.0.0.1/catalog")

    availability_ttl_s: float = Field(
        5.0, ge=0, le=10, validation_alias=AliasChoices("CATALOG_AVAILABILITY_TTL_S", "availability_ttl_s"),
        description="seconds the legacy-compatible reads may serve cached stock availability (0 = always ask "
                    "the monolith); answers to writes always read it fresh")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir}/catalog.db"


def get_catalog_settings(**overrides: object) -> CatalogSettings:
    return load_settings(CatalogSettings, **overrides)


def get_catalog_id_start() -> int:
    return load_settings(CatalogIdRange).id_start
