"""Typed dependencies of the catalog routers.

Why `async def` for these plain look-ups: FastAPI runs a sync dependency on its thread pool — a thread hop
per dependency per request, which cost more than the look-up itself on the legacy-compatible reads.
Nothing here blocks."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from new_services.catalog.ports import AvailabilitySource
from new_services.catalog.settings import CatalogSettings
from new_services.common.deps import DryRunDep

__all__ = ["AvailabilityDep", "DryRunDep", "SettingsDep"]


async def get_settings(request: Request) -> CatalogSettings:
    return request.app.state.settings


async def get_availability(request: Request) -> AvailabilitySource:
    return request.app.state.availability


SettingsDep = Annotated[CatalogSettings, Depends(get_settings)]
AvailabilityDep = Annotated[AvailabilitySource, Depends(get_availability)]
