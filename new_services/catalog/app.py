"""Catalog service application factory (settings and adapters injectable for tests)."""
from __future__ import annotations

from fastapi import FastAPI

from acl.catalog.availability import LegacyInventoryAvailability
from acl.common.envelope import LegacyApiError, legacy_envelope, on_legacy_error
from new_services.catalog.api import products_legacy, products_v2
from new_services.catalog.models import Base
from new_services.catalog.ports import AvailabilitySource, AvailabilityUnavailable
from new_services.catalog.settings import CatalogSettings, get_catalog_settings
from new_services.common.app import create_service_app
from new_services.common.db import Database


def create_app(settings: CatalogSettings | None = None, *,
               availability: AvailabilitySource | None = None) -> FastAPI:
    settings = settings or get_catalog_settings()
    database = Database(settings.resolved_database_url)
    source = availability or LegacyInventoryAvailability(settings.legacy_base_url,
                                                         timeout_s=settings.legacy_timeout_s)

    def create_schema() -> None:
        Base.metadata.create_all(database.engine)

    app = create_service_app(
        title="Catalog service", service="catalog", settings=settings, database=database,
        routers=[products_v2.router, products_legacy.router], envelope=legacy_envelope,
        on_startup=create_schema, on_shutdown=source.close)
    app.state.availability = source
    app.add_exception_handler(LegacyApiError, on_legacy_error)
    app.add_exception_handler(AvailabilityUnavailable, products_legacy.on_availability_error)
    return app
