"""Typed dependencies shared by service routers (full-stack-fastapi-template style aliases)."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from new_services.common.db import Database
from new_services.common.dryrun import DryRunDep, is_dry_run

__all__ = ["DatabaseDep", "DryRunDep", "SessionDep", "get_database", "get_session"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_database(request: Request) -> Database:
    return request.app.state.database


def get_session(request: Request) -> Iterator[Session]:
    """A session for this request; a verified shadow write gets one whose work is rolled back.

    Unsafe methods get a writer session (SQLite: BEGIN IMMEDIATE, see db.py); reads never queue behind writers.
    """
    write = request.method not in SAFE_METHODS
    with get_database(request).session(dry_run=is_dry_run(request), write=write) as session:
        yield session


DatabaseDep = Annotated[Database, Depends(get_database)]
# scope="function": the rollback of a dry run happens before the response leaves, so an observer that got
# the answer can never see the rolled-back row.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
