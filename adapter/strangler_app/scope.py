"""The dry-run scope of one request: set by the ASGI/WSGI middleware, read by the app and the SQL hook.

Why a context variable: the middleware sits outside the framework, the session factory deep inside the
app; a contextvar reaches from one to the other through threads started with the request's context
(Starlette's threadpool, Flask's request thread) without the app passing anything along.
"""
from __future__ import annotations

import contextvars
import threading
from typing import Any, Callable, Dict, List, Optional

_current: contextvars.ContextVar[Optional[DryRunScope]] = contextvars.ContextVar("strangler_dry_run", default=None)


class DryRunScope:
    """One verified dry-run request. Closers registered by hooks (e.g. the SQLAlchemy one) run once, at the
    end of the request, in reverse order: that is where the request's transaction is rolled back."""

    def __init__(self) -> None:
        self.closed = False
        self._closers: List[Callable[[], None]] = []
        self._lock = threading.Lock()
        self.state: Dict[str, Any] = {}  # hooks keep per-request objects here (e.g. the pinned connection)

    def on_close(self, closer: Callable[[], None]) -> None:
        with self._lock:
            if self.closed:
                raise RuntimeError("dry-run scope already closed")
            self._closers.append(closer)

    def close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
            closers, self._closers = self._closers, []
        error: Optional[Exception] = None
        for closer in reversed(closers):
            try:
                closer()
            except Exception as exc:  # noqa: BLE001 - every closer runs; the first failure is raised after
                error = error or exc
        if error is not None:
            raise error


def current() -> Optional[DryRunScope]:
    """The open dry-run scope of the running request, or None (an ordinary request)."""
    scope = _current.get()
    return scope if scope is not None and not scope.closed else None


def is_dry_run() -> bool:
    """True inside a verified shadow copy: skip external side effects (mails, calls to other systems)."""
    return current() is not None


def enter(scope: DryRunScope) -> contextvars.Token[Optional[DryRunScope]]:
    return _current.set(scope)


def leave(token: contextvars.Token[Optional[DryRunScope]]) -> None:
    _current.reset(token)
