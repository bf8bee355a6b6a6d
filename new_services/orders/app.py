"""Orders service application factory (settings and collaborators injectable for tests)."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from strangler_app.fastapi_identity import IdentityMiddleware, LoginRequired

from acl.common.envelope import (
    LegacyApiError,
    is_legacy_path,
    legacy_envelope,
    on_legacy_error,
)
from acl.customers.client import LegacyCustomerDirectory
from acl.inventory.client import LegacyInventory
from acl.orders.prices import LegacyProductPrices
from new_services.common.app import create_service_app
from new_services.common.db import Database
from new_services.common.id_range import refuse_legacy_ids_in_range
from new_services.orders.api import orders_legacy, orders_v2
from new_services.orders.api.problems import DOMAIN_ERRORS, domain_problem
from new_services.orders.identity import on_login_required
from new_services.orders.models import Base, OrderIdCounter, OrderRecord
from new_services.orders.repository import COUNTER, ensure_id_counter
from new_services.orders.saga import Collaborators, OrderSaga
from new_services.orders.settings import ID_START_ENV, OrdersSettings, get_orders_settings


def legacy_collaborators(settings: OrdersSettings) -> Collaborators:
    """The monolith (customers, inventory) and the products API (prices), each through its ACL client."""
    timeout = settings.legacy_timeout_s
    return Collaborators(
        customers=LegacyCustomerDirectory(settings.legacy_base_url, timeout_s=timeout),
        prices=LegacyProductPrices(settings.resolved_catalog_url, timeout_s=timeout),
        inventory=LegacyInventory(settings.legacy_base_url, timeout_s=timeout))


def create_app(settings: OrdersSettings | None = None, *, collaborators: Collaborators | None = None) -> FastAPI:
    settings = settings or get_orders_settings()
    database = Database(settings.resolved_database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
    # legacy OrderIds copied here (backfill, forward sync) must stay below the service's own range
    refuse_legacy_ids_in_range(database, OrderIdCounter, COUNTER, OrderRecord.id, settings.id_start, "OrderId",
                               ID_START_ENV)
    parts = collaborators or legacy_collaborators(settings)

    def start() -> None:
        # writer: BEGIN IMMEDIATE, so workers starting together on a new SQLite file queue for the lock
        # (a deferred BEGIN's upgrade to CREATE TABLE fails at once with 'database is locked')
        Base.metadata.create_all(database.writer)
        with database.session() as session:
            ensure_id_counter(session, settings.id_start)
        # what was owed before a restart
        OrderSaga(parts, database, uncertain_window_s=settings.uncertain_window_s).drain_outbox()

    app = create_service_app(
        title="Orders service", service="orders", settings=settings, database=database,
        routers=[orders_v2.router, orders_legacy.router], envelope=legacy_envelope,
        on_startup=start, on_shutdown=parts.close)
    app.state.collaborators = parts
    # outermost: a forged/expired/replayed identity header is refused before anything else runs
    app.add_middleware(IdentityMiddleware, key=settings.identity_key.get_secret_value())

    async def on_domain_error(request: Request, exc: Exception) -> Response:
        if is_legacy_path(request.url.path):
            legacy = orders_legacy.domain_error_as_legacy(exc)
            if legacy is not None:
                return legacy
        return domain_problem(exc, request.url.path)

    for error in DOMAIN_ERRORS:
        app.add_exception_handler(error, on_domain_error)
    app.add_exception_handler(LegacyApiError, on_legacy_error)
    app.add_exception_handler(LoginRequired, on_login_required)
    return app
