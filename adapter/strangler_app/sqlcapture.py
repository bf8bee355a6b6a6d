"""SQL capture for any Python app using SQLAlchemy: one JSON line per statement, for `strangler analyze`.

One class-level SQLAlchemy listener (every Engine, present and future) appends a line per statement to the
file named by STRANGLER_SQL_CAPTURE: {"sql", "module" (Flask blueprint), "endpoint", "method"} — module
"(no request)" outside a request (or outside Flask). Lines are written with one os.write on an O_APPEND
descriptor, so gunicorn workers can share the file without interleaving; the descriptor is reopened after
a fork. No parameters and no timestamps are recorded: that keeps customer data out and makes identical
statements identical lines, which the analysis de-duplicates cheaply.

Stdlib only at import (Python >= 3.8); SQLAlchemy and Flask are imported only when used, so this module
runs inside the app's own virtualenv and interpreter, never needing the kit there. Ways to turn it on (all
need STRANGLER_SQL_CAPTURE=path):
- `strangler analyze capture -- COMMAND…`  puts strangler_app/_capture (a sitecustomize) on PYTHONPATH,
  which calls `install_when_imported()`: the listener is installed as soon as the app imports SQLAlchemy
- gunicorn: `-c python:strangler_app.sqlcapture_gunicorn` (this package installed in the app's venv)
- WSGI wrapper: `gunicorn 'strangler_app.sqlcapture:wrap("your.wsgi:app")'`
- in your own code or gunicorn.conf.py: `strangler_app.sqlcapture.install()`
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
from typing import Any, Dict, Optional, Tuple

ENV = "STRANGLER_SQL_CAPTURE"
NO_REQUEST = "(no request)"
_MARK = "_strangler_sqlcapture"

_lock = threading.Lock()
_state: Dict[str, Any] = {"installed": False, "fd": None, "pid": None, "path": None}


def _fd(path: str) -> int:
    pid = os.getpid()
    if _state["fd"] is None or _state["pid"] != pid or _state["path"] != path:
        with _lock:
            if _state["fd"] is None or _state["pid"] != pid or _state["path"] != path:
                directory = os.path.dirname(path)
                if directory:
                    os.makedirs(directory, exist_ok=True)
                _state.update(fd=os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), pid=pid, path=path)
    fd: int = _state["fd"]
    return fd


def _request_labels() -> Tuple[str, Optional[str], Optional[str]]:
    if "flask" not in sys.modules:  # a Flask request is only possible once the app imported Flask
        return NO_REQUEST, None, None
    try:
        from flask import has_request_context, request
    except ImportError:
        return NO_REQUEST, None, None
    if not has_request_context():
        return NO_REQUEST, None, None
    return request.blueprint or "(app)", request.endpoint, request.method


def record(statement: str, path: Optional[str] = None) -> None:
    """Append one statement with the current request's labels (what the listener calls)."""
    path = path or _state["path"] or os.environ.get(ENV)
    if not path:
        return
    module, endpoint, method = _request_labels()
    line = json.dumps({"sql": statement, "module": module, "endpoint": endpoint, "method": method},
                      separators=(",", ":")) + "\n"
    os.write(_fd(path), line.encode("utf-8", "replace"))


def _before_cursor_execute(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                           executemany: bool) -> None:
    try:  # noqa: SIM105 - runs per statement: a try costs nothing, suppress() builds an object
        record(statement)
    except Exception:  # noqa: BLE001 - capture must never break the application it observes
        pass


def install(path: Optional[str] = None) -> bool:
    """Listen on every SQLAlchemy Engine. Returns False (and does nothing) when no capture file is set."""
    path = path or os.environ.get(ENV)
    if not path:
        return False
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with _lock:
        _state["path"] = os.path.abspath(path)
        # one listener per process, even with two copies of this module (capture's sitecustomize loads one
        # from the kit, the app may import its own): the mark lives on the Engine class they share
        if not _state["installed"] and not getattr(Engine, _MARK, False):
            event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
            setattr(Engine, _MARK, True)
            _state["installed"] = True
    return True


def uninstall() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    with _lock:
        if _state["installed"]:
            event.remove(Engine, "before_cursor_execute", _before_cursor_execute)
            setattr(Engine, _MARK, False)
            _state["installed"] = False
        if _state["fd"] is not None and _state["pid"] == os.getpid():
            os.close(_state["fd"])
        _state.update(fd=None, pid=None, path=None)


def wrap(app: Any, path: Optional[str] = None) -> Any:
    """Install capture and return the WSGI app unchanged; `app` may be an object or "module:attr"."""
    if isinstance(app, str):
        module_name, _, attr = app.partition(":")
        app = getattr(importlib.import_module(module_name), attr or "app")
    if not install(path):
        raise RuntimeError("set %s to the capture file path (e.g. var/footprint/capture.jsonl)" % ENV)
    return app


class _Loader(importlib.abc.Loader):
    """SQLAlchemy's own loader, plus `install()` once the package has finished importing."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        module.__loader__ = module.__spec__.loader = self._loader  # hand the real loader back
        try:
            install()
        except Exception as exc:  # noqa: BLE001 - never stop the user's program
            sys.stderr.write("strangler: SQL capture not installed: %s\n" % (exc,))


class _Finder(importlib.abc.MetaPathFinder):
    """Waits for the first `import sqlalchemy`, without importing SQLAlchemy itself (it may not be there)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != "sqlalchemy":
            return None
        _remove_finder()
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader)
        return spec


def _remove_finder() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def install_when_imported() -> bool:
    """Install the listener as soon as the process imports SQLAlchemy (now, if it already has). False when
    STRANGLER_SQL_CAPTURE is not set. What the capture sitecustomize calls at interpreter start."""
    if not os.environ.get(ENV):
        return False
    if "sqlalchemy" in sys.modules:
        return install()
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
    return True
