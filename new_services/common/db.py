"""Engine and session setup for SQLite (demo, tests) and PostgreSQL, with a roll-back-only session mode.

Why the SQLite event hooks: the stdlib driver opens transactions lazily and breaks SAVEPOINT semantics.
Handing transaction control to SQLAlchemy (isolation_level=None + explicit BEGIN) makes nested savepoints
work, which the dry-run session needs: the request's own commits become savepoint releases inside an outer
transaction that is always rolled back.

Why BEGIN IMMEDIATE for writes: a deferred transaction that reads and then writes must upgrade its lock, and
SQLite answers an upgrade that would wait on another writer with "database is locked" at once — busy_timeout
does not apply there. Taking the write lock up front makes writers queue (up to busy_timeout); it is also the
only point where SQLite in WAL mode can still say busy, before the unit of work has done anything, so retrying
it a bounded number of times is safe. Still busy after that → DatabaseBusy → 503 DATABASE_BUSY (problems.py).

Why lock_timeout on PostgreSQL: a PostgreSQL lock wait has no limit by default, so one transaction that cannot
finish (say a dry run whose rollback waits for a request thread that the lock's waiters hold) stalled every
request queued behind it for good (issue 15: the write-safety audit's stalled sync). Every writer transaction and
every dry run begins with SET LOCAL lock_timeout = the busy timeout, SQLite's busy_timeout's twin: a wait past it
fails with 55P03 lock_not_available → DatabaseBusy → 503 DATABASE_BUSY + Retry-After, the waiter's thread and
connection are freed and a convoy drains instead of deadlocking.
"""
from __future__ import annotations

import contextlib
import random
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

DEFAULT_BUSY_TIMEOUT_MS = 5000
BEGIN_ATTEMPTS = 3  # BEGIN IMMEDIATE tries, each waiting up to busy_timeout
WRITE_OPTION = "service_write"
DRY_RUN_OPTION = "service_dry_run"  # a dry run's connection: bounded lock waits; SQLite: its BEGIN at first SQL
_BEGIN_PENDING = "service_begin_pending"  # Connection.info: a dry-run write's BEGIN IMMEDIATE, owed at its first SQL
DRY_RUN_INFO = "dry_run"  # Session.info key: True in a Database.session(dry_run=True) (id_range reads it)
TRANSIENT_PG_STATES = frozenset({"40001", "40P01", "55P03"})  # serialization failure, deadlock, lock not available


class DatabaseBusy(Exception):
    """Other writers held the database past the wait budget; nothing was changed. Answered as 503 + Retry-After."""


def is_busy(exc: BaseException) -> bool:
    """Contention, not a fault: SQLite 'database is locked/busy', PostgreSQL serialization/deadlock/lock, and no
    pool connection free within the busy timeout (see make_engine)."""
    if isinstance(exc, DatabaseBusy | PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    message = str(exc.orig)
    return ("database is locked" in message or "database is busy" in message
            or getattr(exc.orig, "sqlstate", None) in TRANSIENT_PG_STATES)


def _begin_immediate(connection) -> None:
    for attempt in range(BEGIN_ATTEMPTS):
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except DBAPIError as exc:
            if not is_busy(exc):
                raise
        if attempt + 1 < BEGIN_ATTEMPTS:
            time.sleep(random.uniform(0.01, 0.05) * 2 ** attempt)  # jitter: waiting writers do not wake together
    raise DatabaseBusy(f"the write lock stayed taken through {BEGIN_ATTEMPTS} waits")


def _prepare_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # DBAPI types: untyped
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if engine.url.database not in (None, "", ":memory:"):
            _enable_wal(cursor, busy_timeout_ms)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        options = connection.get_execution_options()
        if options.get(DRY_RUN_OPTION, False) and options.get(WRITE_OPTION, False):
            connection.info[_BEGIN_PENDING] = True  # taken at the dry run's first statement, see Database.session
        elif options.get(WRITE_OPTION, False):
            _begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN")

    @event.listens_for(engine, "before_cursor_execute")
    def _owed_begin(connection, _cursor, _statement, _parameters, _context, _executemany) -> None:
        if connection.info.pop(_BEGIN_PENDING, False):
            _begin_immediate(connection)

    @event.listens_for(engine, "rollback")
    def _nothing_owed(connection) -> None:  # a dry run that ran no SQL: the pooled connection owes nothing
        connection.info.pop(_BEGIN_PENDING, None)


def _enable_wal(cursor, busy_timeout_ms: int) -> None:  # a DBAPI cursor: untyped
    """PRAGMA journal_mode=WAL, retried within the busy timeout. Switching a file that is not in WAL mode yet
    (a database the migration tool created) needs its exclusive lock, and when two service workers start
    together each holds a shared lock waiting for the other's: SQLite answers one of them 'database is locked'
    at once instead of calling its busy handler (seen: a worker exited at start-up, taking the service down).
    The pragma is idempotent, so trying again once the other has switched is safe."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01 + random.random() * 0.02)


def _prepare_postgres(engine: Engine, busy_timeout_ms: int) -> None:
    statement = f"SET LOCAL lock_timeout = {int(busy_timeout_ms)}"

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        options = connection.get_execution_options()
        if options.get(WRITE_OPTION, False) or options.get(DRY_RUN_OPTION, False):
            connection.exec_driver_sql(statement)  # LOCAL: ends with the transaction, the pool sees no change


def make_engine(url: str, *, echo: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """An Engine for `url`; SQLite files get their folder created, WAL and foreign keys on.

    hide_parameters: an error's message (and so the log) never carries the request's values.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:")
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo, hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            **({"poolclass": StaticPool} if in_memory else {"pool_timeout": busy_timeout_ms / 1000}),
        )
        _prepare_sqlite(engine, busy_timeout_ms)
        return engine
    # pool_timeout = the busy timeout: a dry run takes its connection in the session dependency's thread and
    # then waits for another for its handler, so a burst can leave every thread waiting for a connection that
    # thread-less requests hold; a bounded wait turns that into 503 DATABASE_BUSY (is_busy), not a 30 s stall
    engine = create_engine(url, echo=echo, hide_parameters=True, pool_pre_ping=True,
                           pool_timeout=busy_timeout_ms / 1000)
    if parsed.get_backend_name() == "postgresql":
        _prepare_postgres(engine, busy_timeout_ms)
    return engine


class Database:
    """One engine plus the two ways a request may use it: for real, or inside a rolled-back transaction."""

    def __init__(self, url: str, *, echo: bool = False, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, busy_timeout_ms=busy_timeout_ms)
        # Same pool; on SQLite its transactions take the write lock up front (BEGIN IMMEDIATE); on PostgreSQL its
        # and the dry runs' transactions wait for a lock at most busy_timeout_ms (lock_timeout).
        self.writer = self.engine.execution_options(**{WRITE_OPTION: True})
        self.dry_runs = self.engine.execution_options(**{DRY_RUN_OPTION: True})
        self.dry_run_writes = self.engine.execution_options(**{DRY_RUN_OPTION: True, WRITE_OPTION: True})

    @contextlib.contextmanager
    def session(self, *, dry_run: bool = False, write: bool = True) -> Iterator[Session]:
        """A Session; handlers commit explicitly. With dry_run every commit is undone at the end.

        write=False (safe methods) keeps SQLite's deferred BEGIN, so readers never queue behind writers.
        A dry run's Session carries info[DRY_RUN_INFO] = True: its locks last until its rollback, so it takes no
        lock beyond SQLite's write lock that real writes would queue on — id_range.allocate_id reads it and
        leaves the id counter alone.
        """
        engine = self.writer if write else self.engine
        if not dry_run:
            with Session(engine, expire_on_commit=False) as session:
                yield session
            return
        # A dry run's outer transaction is opened here; the session's commits become savepoint releases inside it
        # and it is always rolled back. The session is used in the one thread that opened it (in_session,
        # deps.py), so its locks are never held by a request waiting for a thread. On SQLite a write's outer
        # BEGIN IMMEDIATE is owed until its first statement (_owed_begin), as a real write's autobegin is: the
        # dry run takes the write lock when a real write would (not during the calls a handler makes first) and
        # queues for it up to the busy timeout like a real write — a deferred BEGIN's upgrade answered "database
        # is locked" at once, so concurrent dry runs failed with 503 where the real writes queued.
        with (self.dry_run_writes if write else self.dry_runs).connect() as connection:
            outer = connection.begin()
            session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                              info={DRY_RUN_INFO: True})
            try:
                yield session
            finally:
                session.close()
                outer.rollback()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
