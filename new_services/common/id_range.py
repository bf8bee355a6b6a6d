"""Identifiers from a service's own range, so rows the service creates never collide with rows the monolith
creates while both take writes (and while reverse sync copies the service's rows into legacy tables).

A counter row (name → next id) per range: an UPDATE on it is the serialisation point — the row lock on
PostgreSQL, the write lock on SQLite — so concurrent creates never hand out one id twice. Ids below the range
start belong to the monolith (backfilled rows keep theirs); legacy's own next id must stay below the start.

A dry run (a signed shadow copy, rolled back) takes no id from the range and no lock on the counter: see
dry_run_id.
"""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, func, inspect, select, text, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from new_services.common.db import DRY_RUN_INFO
from new_services.common.types import MAX_ID

#: Above every PostgreSQL backend pid (Linux's PID_MAX_LIMIT is 2**22): spaces one connection's dry-run ids apart.
_PID_SPAN = 2**22
_DRY_RUN_IDS = "dry_run_ids"  # Session.info key: how many ids this dry run took (one per created row)


class IdRangeError(RuntimeError):
    """The service's id range and the monolith's ids would meet; the message names both numbers and the fix."""


def first_free_id(session: Session, id_column: InstrumentedAttribute[int], start: int) -> int:
    highest = session.scalar(select(func.max(id_column)).where(id_column >= start))
    return max(start, (highest or 0) + 1)


def allocate_id(session: Session, counter: Any, name: str, id_column: InstrumentedAttribute[int],
                start: int) -> int:
    """The next id from the range (>= start), bumping the counter row `name` of the `counter` model.

    In a dry run's session (Database.session(dry_run=True)) it returns dry_run_id instead and leaves the counter
    alone."""
    if session.info.get(DRY_RUN_INFO):
        return dry_run_id(session)
    bumped = cast(CursorResult[Any], session.execute(update(counter).where(counter.name == name)
                                                     .values(next_id=counter.next_id + 1))).rowcount
    if bumped:
        allocated: int = session.execute(select(counter.next_id).where(counter.name == name)).scalar_one() - 1
        if allocated >= start:
            return allocated
    first = first_free_id(session, id_column, start)  # no counter yet, or the range start was raised
    if bumped:
        session.execute(update(counter).where(counter.name == name).values(next_id=first + 1))
    else:
        session.add(counter(name=name, next_id=first + 1))
        session.flush()
    return first


def dry_run_id(session: Session) -> int:
    """A dry run's id: from the top of the id space, far above any the range hands out, and unique among the dry
    runs in flight.

    Why not bump the counter: a dry run keeps every lock it takes until its outer rollback, which comes only after
    its answer is serialised on the request thread pool. Its counter row lock made every other create wait; those
    waits held the pool's threads (and connections), so the rollback never ran: the service and the sync behind
    it stalled (issue 15). Why not peek the counter's next id (SELECT, no UPDATE): the dry run must still INSERT
    its row, and concurrent dry runs (and the next real create) would insert that same id and wait on one
    another's uncommitted row — the same stall. Counting down from MAX_ID meets no real row (the range would need
    some two billion creates to get there); on PostgreSQL the id is offset by the connection's backend pid, which
    no other open connection has, and on SQLite the write lock lets one dry run at a time write. The row is rolled
    back, so the id is never stored; it is only in the dry run's answer, whose ids differ from legacy's anyway
    (the service's range)."""
    taken = int(session.info.get(_DRY_RUN_IDS, 0))
    session.info[_DRY_RUN_IDS] = taken + 1
    is_postgres = session.get_bind().dialect.name == "postgresql"
    owner = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one()) if is_postgres else 0
    return MAX_ID - owner - taken * _PID_SPAN


def ensure_counter(session: Session, counter: Any, name: str, id_column: InstrumentedAttribute[int],
                   start: int) -> int:
    """At start-up: create the counter row (so concurrent first creates do not race to create it)."""
    current = session.get(counter, name)
    first = first_free_id(session, id_column, start)
    if current is None:
        session.add(counter(name=name, next_id=first))
    elif current.next_id < first:
        current.next_id = first
    session.commit()
    return first


def foreign_max_id(session: Session, counter: Any, name: str, id_column: InstrumentedAttribute[int],
                   start: int) -> int | None:
    """The highest id at or above the range that this service did not hand out (None if there is none).

    Rows reach the service's table from the monolith only (backfill, forward sync); those at or above the
    counter (or at/above `start` before the first start-up) are therefore legacy ids inside the range."""
    has_counter = inspect(session.connection()).has_table(counter.__tablename__)
    current = session.get(counter, name) if has_counter else None
    floor = start if current is None else max(start, current.next_id)
    return session.scalar(select(func.max(id_column)).where(id_column >= floor))


def refuse_legacy_ids_in_range(database: Any, counter: Any, name: str, id_column: InstrumentedAttribute[int],
                               start: int, what: str, env: str) -> None:
    """At service start: refuse when legacy ids copied here (backfill, forward sync) reached the range — rows the
    service creates would collide with the monolith's. Raises SettingsError (start-up prints it, no traceback);
    `migrate status` reports the same check with the same wording."""
    from new_services.common.settings import SettingsError

    if not inspect(database.engine).has_table(id_column.class_.__tablename__):
        return
    with database.session() as session:
        legacy_max = foreign_max_id(session, counter, name, id_column, start)
    if legacy_max is not None:
        raise SettingsError(range_problem(what, legacy_max, start, env))


def range_problem(what: str, legacy_max: int, start: int, env: str) -> str:
    """The message when legacy's ids reached the service's range (one wording for service start and status)."""
    return (f"legacy {what} {legacy_max} is at or above {env}={start}: ids the service hands out would "
            f"collide with the monolith's. Fix: set {env} above {legacy_max} with room for legacy's growth "
            f"(e.g. {suggest_start(legacy_max)}) before the service creates rows")


def suggest_start(legacy_max: int) -> int:
    """A round start well above `legacy_max` (ten times it, rounded up to a power of ten)."""
    start = 10
    while start <= legacy_max * 10:
        start *= 10
    return start
