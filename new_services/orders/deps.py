"""Typed dependencies of the orders routers."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from new_services.common.deps import DatabaseDep, DryRunDep
from new_services.orders.faults import FaultsDep
from new_services.orders.saga import Collaborators, OrderSaga
from new_services.orders.settings import OrdersSettings

__all__ = ["DryRunDep", "SagaDep", "SettingsDep"]


async def get_settings(request: Request) -> OrdersSettings:
    return request.app.state.settings


async def get_saga(request: Request, database: DatabaseDep, dry_run: DryRunDep, faults: FaultsDep) -> OrderSaga:
    parts: Collaborators = request.app.state.collaborators
    settings: OrdersSettings = request.app.state.settings
    return OrderSaga(parts, database, dry_run=dry_run, faults=faults, id_start=settings.id_start,
                     uncertain_window_s=settings.uncertain_window_s)


SettingsDep = Annotated[OrdersSettings, Depends(get_settings)]
SagaDep = Annotated[OrderSaga, Depends(get_saga)]
