"""SQLAlchemy hook: every Session made by a factory runs a dry-run request inside ONE transaction that is
rolled back at the end of the request, while the request's own commits still succeed and stay visible to it.

How: `install(factory)` listens for new session transactions on the factory (a sessionmaker, a
scoped_session such as Flask-SQLAlchemy's `db.session`, or a Session class). Inside a dry-run scope
(strangler_app.scope, opened by the middleware) the session is bound to one connection per engine per
request, opened with an outer transaction; the session joins it with SAVEPOINTs, so `commit()` only
releases a savepoint. The middleware closes the scope after the answer is built: the outer transaction is
rolled back and the connection returned. Outside a dry-run scope nothing changes.

SQLite (pysqlite) only opens transactions lazily, which breaks SAVEPOINT: the hook emits BEGIN itself when
the driver is not already in a transaction. Not covered: SQL run on the engine directly (`engine.begin()`,
`engine.connect()`), bypassing sessions — check `strangler_app.is_dry_run()` there.
"""
from __future__ import annotations

import threading
from typing import Any

from strangler_app import scope as _scope

_KEY = "sqlalchemy_connections"
_lock = threading.Lock()


def install(factory: Any, engine: Any = None) -> Any:
    """Make sessions of `factory` roll back inside dry-run requests; returns `factory`. `engine` is only
    needed when the sessions have no bind of their own (e.g. Flask-SQLAlchemy: pass `db.engine`)."""
    from sqlalchemy import event

    target = getattr(factory, "session_factory", factory)  # scoped_session -> its sessionmaker

    def _on_transaction(session: Any, transaction: Any) -> None:
        request = _scope.current()
        if request is None or transaction.parent is not None:
            return
        bound = engine if engine is not None else session.bind
        if bound is None:
            raise RuntimeError("strangler_app.sqla.install: the session has no bind. Fix: pass the engine, "
                               "install(factory, engine)")
        connection = _pinned(request, getattr(bound, "engine", bound))
        session.join_transaction_mode = "create_savepoint"
        # an instance attribute: Flask-SQLAlchemy's own get_bind would otherwise pick the engine
        session.get_bind = lambda *args, **kwargs: connection

        def _unbind() -> None:
            for name in ("get_bind", "join_transaction_mode"):
                session.__dict__.pop(name, None)

        request.on_close(_unbind)

    event.listen(target, "after_transaction_create", _on_transaction)
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
                connection.exec_driver_sql("BEGIN")
        connections[id(engine)] = connection

    def _rollback() -> None:
        try:
            outer.rollback()
        finally:
            connection.close()

    request.on_close(_rollback)
    return connection
