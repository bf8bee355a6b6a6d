"""Test-only fault injection, so integration tests can make the local insert fail in a real process.

Why a header gated by a setting: the saga under test stays untouched (no mocks), one running service can
serve both normal and faulty requests, and in production (ORDERS_TEST_FAULTS unset) the header is ignored.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import OperationalError

HEADER = "X-Orders-Test-Fault"
DB_INSERT = "db-insert"
KNOWN = frozenset({DB_INSERT})


class Faults:
    def __init__(self, armed: frozenset[str] = frozenset()) -> None:
        self.armed = armed

    def check(self, point: str) -> None:
        """Raise a database error at `point` when a test armed it."""
        if point in self.armed:
            raise OperationalError(f"injected fault at {point}", {}, RuntimeError("test fault injection"))


NO_FAULTS = Faults()


async def get_faults(request: Request) -> Faults:  # async: no thread hop
    if not getattr(request.app.state.settings, "test_faults", False):
        return NO_FAULTS
    raw = request.headers.get(HEADER, "")
    return Faults(frozenset(p.strip() for p in raw.split(",") if p.strip() in KNOWN))


FaultsDep = Annotated[Faults, Depends(get_faults)]
