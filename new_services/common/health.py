"""GET /healthz for every service: 200 when the process answers and its database does, else 503."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from new_services.common.db import Database


def health_router(service: str, database: Database) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    def healthz() -> JSONResponse:
        try:
            database.ping()
        except Exception as exc:  # noqa: BLE001 - health reports any failure, never raises
            return JSONResponse({"status": "degraded", "service": service,
                                 "database": f"error: {type(exc).__name__}"}, status_code=503)
        return JSONResponse({"status": "ok", "service": service, "database": "ok"})

    return router
