"""Catalog service application factory (settings and adapters injectable for tests)."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import anyio.to_thread
from fastapi import FastAPI

from acl.catalog.availability import LegacyInventoryAvailability
from acl.common.envelope import LegacyApiError, legacy_envelope, on_legacy_error
from new_services.catalog.api import products_legacy, products_v2
from new_services.catalog.models import Base, ProductIdCounter, ProductRecord
from new_services.catalog.ports import AvailabilitySource, AvailabilityUnavailable
from new_services.catalog.repository import COUNTER, ensure_id_counter
from new_services.catalog.settings import ID_START_ENV, CatalogSettings, get_catalog_settings
from new_services.common.app import create_service_app
from new_services.common.db import Database
from new_services.common.id_range import refuse_legacy_ids_in_range


def check_id_range(database: Database, start: int) -> None:
    """Refuse to start when legacy ProductIds copied here reached CATALOG_ID_START (see the shared check)."""
    refuse_legacy_ids_in_range(database, ProductIdCounter, COUNTER, ProductRecord.id, start, "ProductId",
                               ID_START_ENV)


#: Sync handlers' thread pool per worker (anyio's default is 40). Fewer threads contending for the GIL answer
#: in arrival order instead of by scheduling luck: a shorter latency tail; legacy hops are short (timeouts).
REQUEST_THREADS = 8
#: The legacy reads' pool per worker (the event loop's default executor; new_services.common.deps.in_session puts
#: writes on the request pool above, so writes waiting for a lock never take these threads).
#: More reads at once queue for the GIL, not the CPU, and the tail grows: p99 of list pages at wrk -c16 on 2
#: cores was 35-42 ms with 6 threads, 30-35 with 4, 23-30 with 2, 18-22 with 1; 2 still lets a read that waits
#: (PostgreSQL, a missed availability read) overlap with one that computes.
READ_THREADS = 2


def create_app(settings: CatalogSettings | None = None, *,
               availability: AvailabilitySource | None = None) -> FastAPI:
    settings = settings or get_catalog_settings()
    database = Database(settings.resolved_database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
    source = availability or LegacyInventoryAvailability(settings.legacy_base_url,
                                                         timeout_s=settings.legacy_timeout_s,
                                                         ttl_s=settings.availability_ttl_s)

    check_id_range(database, settings.id_start)

    def create_schema() -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(READ_THREADS, thread_name_prefix="catalog-read"))
        # writer: BEGIN IMMEDIATE, so workers starting together on a new SQLite file queue for the lock
        # (a deferred BEGIN's upgrade to CREATE TABLE fails at once with 'database is locked')
        Base.metadata.create_all(database.writer)
        with database.session() as session:
            ensure_id_counter(session, settings.id_start)

    app = create_service_app(
        title="Catalog service", service="catalog", settings=settings, database=database,
        routers=[products_v2.router, products_legacy.router], envelope=legacy_envelope,
        on_startup=create_schema, on_shutdown=source.close)
    app.state.availability = source
    app.add_exception_handler(LegacyApiError, on_legacy_error)
    app.add_exception_handler(AvailabilityUnavailable, products_legacy.on_availability_error)
    return app
