"""Engine and session setup for SQLite (demo, tests) and PostgreSQL, with a roll-back-only session mode.

Why the SQLite event hooks: the stdlib driver opens transactions lazily and breaks SAVEPOINT semantics.
Handing transaction control to SQLAlchemy (isolation_level=None + explicit BEGIN) makes nested savepoints
work, which the dry-run session needs: the request's own commits become savepoint releases inside an outer
transaction that is always rolled back.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DBAPI types
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:  # noqa: ANN001
        connection.exec_driver_sql("BEGIN")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An Engine for `url`; SQLite files get their folder created, WAL and foreign keys on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:")
        if not in_memory:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, echo=echo,
            connect_args={"check_same_thread": False, "timeout": 10},
            **({"poolclass": StaticPool} if in_memory else {}),
        )
        _prepare_sqlite(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


class Database:
    """One engine plus the two ways a request may use it: for real, or inside a rolled-back transaction."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)

    @contextlib.contextmanager
    def session(self, *, dry_run: bool = False) -> Iterator[Session]:
        """A Session; handlers commit explicitly. With dry_run every commit is undone at the end."""
        if not dry_run:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
            return
        with self.engine.connect() as connection:
            outer = connection.begin()
            session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
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
