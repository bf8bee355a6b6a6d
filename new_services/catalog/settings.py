"""Catalog service settings (env): CATALOG_DATABASE_URL plus the shared service settings."""
from __future__ import annotations

from pydantic import AliasChoices, Field

from new_services.common.settings import ServiceSettings, load_settings


class CatalogSettings(ServiceSettings):
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("CATALOG_DATABASE_URL", "database_url"),
        description="SQLAlchemy URL of the catalog database, e.g. sqlite:///var/catalog.db or "
                    "postgresql+psycopg://user@127.0.0.1/catalog")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir}/catalog.db"


def get_catalog_settings(**overrides: object) -> CatalogSettings:
    return load_settings(CatalogSettings, **overrides)
