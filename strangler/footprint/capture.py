"""Opt-in SQL capture for any Flask + SQLAlchemy app, without changing the app's code.

One class-level SQLAlchemy listener (every Engine, present and future) appends a JSON line per statement
to the file named by STRANGLER_SQL_CAPTURE: {"sql", "module" (Flask blueprint), "endpoint", "method"} —
module "(no request)" outside a request. Lines are written with one os.write on an O_APPEND descriptor, so
gunicorn workers can share the file without interleaving; the descriptor is reopened after a fork.
No parameters and no timestamps are recorded: that keeps customer data out and makes identical statements
identical lines, which the analysis de-duplicates cheaply.

Ways to turn it on (all need STRANGLER_SQL_CAPTURE=path):
- gunicorn -c python:strangler.footprint.gunicorn_hook your.wsgi:app
- gunicorn 'strangler.footprint.capture:wrap("your.wsgi:app")'   (WSGI wrapper)
- strangler analyze capture -- any python command                (sitecustomize, see cli)
- in your own code or gunicorn.conf.py: strangler.footprint.capture.install()
"""
from __future__ import annotations

import importlib
import json
import os
import threading
from typing import Any

ENV = "STRANGLER_SQL_CAPTURE"
NO_REQUEST = "(no request)"

_lock = threading.Lock()
_state: dict[str, Any] = {"installed": False, "fd": None, "pid": None, "path": None}


def _fd(path: str) -> int:
    pid = os.getpid()
    if _state["fd"] is None or _state["pid"] != pid or _state["path"] != path:
        with _lock:
            if _state["fd"] is None or _state["pid"] != pid or _state["path"] != path:
                directory = os.path.dirname(path)
                if directory:
                    os.makedirs(directory, exist_ok=True)
                _state.update(fd=os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), pid=pid, path=path)
    return _state["fd"]


def _request_labels() -> tuple[str, str | None, str | None]:
    try:
        from flask import has_request_context, request
    except ImportError:
        return NO_REQUEST, None, None
    if not has_request_context():
        return NO_REQUEST, None, None
    module = request.blueprint or "(app)"
    return module, request.endpoint, request.method


def record(statement: str, path: str | None = None) -> None:
    """Append one statement with the current request's labels (what the listener calls)."""
    path = path or _state["path"] or os.environ.get(ENV)
    if not path:
        return
    module, endpoint, method = _request_labels()
    line = json.dumps({"sql": statement, "module": module, "endpoint": endpoint, "method": method},
                      separators=(",", ":")) + "\n"
    os.write(_fd(path), line.encode("utf-8", "replace"))


def _before_cursor_execute(conn, cursor, statement, parameters, context, executemany) -> None:
    try:
        record(statement)
    except Exception:  # capture must never break the application it observes
        pass


def install(path: str | None = None) -> bool:
    """Listen on every SQLAlchemy Engine. Returns False (and does nothing) when no capture file is set."""
    path = path or os.environ.get(ENV)
    if not path:
        return False
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with _lock:
        _state["path"] = os.path.abspath(path)
        if not _state["installed"]:
            event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
            _state["installed"] = True
    return True


def uninstall() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with _lock:
        if _state["installed"]:
            event.remove(Engine, "before_cursor_execute", _before_cursor_execute)
            _state["installed"] = False
        if _state["fd"] is not None and _state["pid"] == os.getpid():
            os.close(_state["fd"])
        _state.update(fd=None, pid=None, path=None)


def wrap(app: Any, path: str | None = None) -> Any:
    """Install capture and return the WSGI app unchanged; `app` may be an object or "module:attr"."""
    if isinstance(app, str):
        module_name, _, attr = app.partition(":")
        app = getattr(importlib.import_module(module_name), attr or "app")
    if not install(path):
        raise RuntimeError(f"set {ENV} to the capture file path (e.g. var/footprint/capture.jsonl)")
    return app
