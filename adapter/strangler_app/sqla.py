"""SQLAlchemy hook: every Session made by a factory runs a dry-run request inside ONE transaction that is
rolled back at the end of the request, while the request's own commits still succeed and stay visible to it.

How: `install(factory)` gives the factory's sessions (a sessionmaker, or a scoped_session such as
Flask-SQLAlchemy's `db.session`) a `get_bind` that, inside a dry-run scope (strangler_app.scope, opened by
the middleware), returns one connection per engine per request, opened with an outer transaction; the
session joins it with SAVEPOINTs, so `commit()` — and `with session.begin():` — only release a savepoint.
The middleware closes the scope after the answer is built: the outer transaction is rolled back and the
connection returned. Outside a dry-run scope nothing changes.

SQLite (pysqlite) only opens transactions lazily, which breaks SAVEPOINT: the hook emits BEGIN itself when
the driver is not already in a transaction — BEGIN IMMEDIATE, because a dry run is a write: a deferred
transaction that reads first (an "exists?" check) and then writes must upgrade its lock, and SQLite answers
that upgrade with "database is locked" AT ONCE while another dry run holds the write lock (busy_timeout does
not apply to it), so two overlapping copies made one fail. Taking the lock up front makes them queue.
Not covered: SQL run on the engine directly (`engine.begin()`,
`engine.connect()`), bypassing sessions — check `strangler_app.is_dry_run()` there.
"""
from __future__ import annotations

import threading
from typing import Any

from strangler_app import scope as _scope

_KEY = "sqlalchemy_connections"
_lock = threading.Lock()


def install(factory: Any, engine: Any = None) -> Any:
    """Make sessions of `factory` (a sessionmaker, or a scoped_session such as Flask-SQLAlchemy's
    `db.session`) roll back inside dry-run requests; returns `factory`. `engine` is only needed when the
    sessions have no bind of their own. Several binds per session (Flask-SQLAlchemy bind keys) are not
    supported: the dry run pins the engine the session picks first."""
    maker = getattr(factory, "session_factory", factory)  # scoped_session -> its sessionmaker
    cls = getattr(maker, "class_", None)
    if cls is None or not callable(maker):
        raise TypeError("strangler_app.sqla.install needs a sessionmaker or a scoped_session, got %r. Fix: pass "
                        "the factory your app makes sessions with (e.g. SessionLocal = sessionmaker(...))" % (factory,))
    if cls.__dict__.get("_strangler_dry_run"):
        return factory
    ordinary = cls.get_bind

    def get_bind(session: Any, *args: Any, **kwargs: Any) -> Any:
        """The request's pinned connection inside a dry run; the session's own choice otherwise. Why here:
        a session resolves its bind BEFORE it begins a transaction, so no transaction event comes early enough."""
        request = _scope.current()
        if request is None:
            return ordinary(session, *args, **kwargs)
        bound = engine if engine is not None else ordinary(session, *args, **kwargs)
        session.join_transaction_mode = "create_savepoint"  # commits release savepoints of our transaction
        return _pinned(request, getattr(bound, "engine", bound))

    # sessionmaker made `class_` a subclass of its own: patching it touches no other factory
    cls.get_bind = get_bind
    cls._strangler_dry_run = True
    return factory


def _pinned(request: _scope.DryRunScope, engine: Any) -> Any:
    """The request's connection to `engine`, in an outer transaction rolled back when the request ends."""
    with _lock:
        connections = request.state.setdefault(_KEY, {})
        connection = connections.get(id(engine))
        if connection is not None:
            return connection
        connection = engine.connect()
        outer = connection.begin()
        if engine.dialect.name == "sqlite":
            raw = connection.connection.dbapi_connection
            if not getattr(raw, "in_transaction", True):
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        connections[id(engine)] = connection

    def _rollback() -> None:
        try:
            outer.rollback()
        finally:
            connection.close()

    request.on_close(_rollback)
    return connection
