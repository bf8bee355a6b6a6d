"""Typed dependencies of the orders routers."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from new_services.common.deps import DatabaseDep, DryRunDep, SessionDep
from new_services.orders.faults import FaultsDep
from new_services.orders.repository import OrderRepository
from new_services.orders.saga import Collaborators, OrderSaga
from new_services.orders.settings import OrdersSettings

__all__ = ["DryRunDep", "RepositoryDep", "SagaDep", "SessionDep", "SettingsDep"]


async def get_repository(session: SessionDep) -> OrderRepository:  # async: no thread hop for a constructor
    return OrderRepository(session)


async def get_settings(request: Request) -> OrdersSettings:
    return request.app.state.settings


def get_saga(request: Request, database: DatabaseDep, dry_run: DryRunDep, faults: FaultsDep) -> OrderSaga:
    parts: Collaborators = request.app.state.collaborators
    settings: OrdersSettings = request.app.state.settings
    return OrderSaga(parts, database, dry_run=dry_run, faults=faults, id_start=settings.id_start,
                     uncertain_window_s=settings.uncertain_window_s)


RepositoryDep = Annotated[OrderRepository, Depends(get_repository)]
SettingsDep = Annotated[OrdersSettings, Depends(get_settings)]
SagaDep = Annotated[OrderSaga, Depends(get_saga)]
