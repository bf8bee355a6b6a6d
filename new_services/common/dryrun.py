"""The demo services' dry-run wiring: the adapter's ASGI middleware (strangler_app.asgi, the same one teams
install in their own apps) plus a typed FastAPI dependency handlers read to skip external side effects.

The middleware (installed by new_services/common/app.py) verifies the signed X-Strangler-Shadow header,
refuses forged or replayed ones (403), serves the probe route and acknowledges dry runs; the request's
session (in_session, new_services/common/deps.py) turns the verdict into a rolled-back transaction.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from strangler_app.asgi import is_dry_run as _is_dry_run

__all__ = ["DryRunDep", "is_dry_run"]


def is_dry_run(request: Request) -> bool:
    """True when this request is a verified shadow copy: do not cause external side effects."""
    return _is_dry_run(request)


async def _dry_run(request: Request) -> bool:  # async: a sync dependency costs a thread hop per request
    return _is_dry_run(request)


DryRunDep = Annotated[bool, Depends(_dry_run)]
