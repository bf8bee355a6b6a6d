"""Typed dependencies shared by service routers (full-stack-fastapi-template style aliases)."""
from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from new_services.common.db import Database
from new_services.common.dryrun import DryRunDep, is_dry_run

__all__ = ["DatabaseDep", "DryRunDep", "get_database", "in_session"]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_database(request: Request) -> Database:
    """`async def`: a sync dependency costs a thread hop per request, and this look-up never blocks."""
    return request.app.state.database


def _session_of(request: Request) -> AbstractContextManager[Session]:
    """This request's session: a verified shadow write gets one whose work is rolled back; unsafe methods get a
    writer session (SQLite: BEGIN IMMEDIATE, see db.py), so reads never queue behind writers."""
    database: Database = request.app.state.database
    return database.session(dry_run=is_dry_run(request), write=request.method not in SAFE_METHODS)


async def in_session[T](request: Request, work: Callable[[Session], T]) -> T:
    """`work(session)` on a pool thread with this request's session, opened and closed in that same thread: how
    the services' handlers use the database (there is no session dependency; orders' two legacy reads run on
    the loop, see there). Why: a sync handler with a session dependency costs three thread hops per request
    (the dependency's enter, the handler, the dependency's exit) — on the hot legacy reads they cost more CPU
    than the queries — and a dry run's connection was held by a request waiting for a second thread; this is
    one hop. Reads go to the event loop's default executor (cheaper per hop than anyio's; a service sizes it
    at start-up, catalog: READ_THREADS in its app.py); writes to anyio's thread pool, so writes waiting for a
    database lock (up to the busy timeout) never take the threads the reads run on."""
    opening = _session_of(request)

    def run() -> T:
        with opening as session:
            return work(session)

    if request.method in SAFE_METHODS:
        return await asyncio.get_running_loop().run_in_executor(None, contextvars.copy_context().run, run)
    return await run_in_threadpool(run)


DatabaseDep = Annotated[Database, Depends(get_database)]
