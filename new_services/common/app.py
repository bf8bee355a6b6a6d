"""Assemble a service app the same way everywhere: health, problem details, dry-run middleware."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from strangler_app.asgi import DryRunMiddleware

from new_services.common.db import Database
from new_services.common.health import health_router
from new_services.common.problems import EnvelopeRenderer, install_problem_handlers
from new_services.common.settings import ServiceSettings


def create_service_app(*, title: str, service: str, settings: ServiceSettings, database: Database,
                       routers: Sequence[APIRouter], envelope: EnvelopeRenderer | None = None,
                       on_startup: Callable[[], None] | None = None,
                       on_shutdown: Callable[[], None] | None = None, version: str = "1.0.0") -> FastAPI:
    """A FastAPI app with /healthz, RFC 9457 errors and signed dry-run writes wired in."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if on_startup is not None:
            on_startup()
        yield
        if on_shutdown is not None:
            on_shutdown()
        database.dispose()

    # redirect_slashes=False: '/x/' is not '/x' (legacy clients got a 404 there, not a redirect)
    app = FastAPI(title=title, version=version, lifespan=lifespan, redirect_slashes=False)
    app.state.database = database
    app.state.settings = settings
    # Problem handlers first: their error boundary must sit inside the dry-run middleware, so a shadowed
    # write that fails still carries the dry-run acknowledgement.
    install_problem_handlers(app, envelope=envelope)
    app.add_middleware(DryRunMiddleware, key=settings.shadow_key.get_secret_value(),
                       window_s=settings.shadow_window_s)
    app.include_router(health_router(service, database))
    for router in routers:
        app.include_router(router)
    return app
