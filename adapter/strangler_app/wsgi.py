"""WSGI dry-run middleware (Flask, any WSGI app). Imports no framework.

    from strangler_app.wsgi import DryRunMiddleware
    app.wsgi_app = DryRunMiddleware(app.wsgi_app, key=os.environ["STRANGLER_SHADOW_KEY"], sessions=Session)

Same behaviour as strangler_app.asgi: a validly signed write runs in a dry-run scope (sessions rolled back)
and is acknowledged; forged, stale or replayed signatures are refused (403); the probe route is served here.
"""
from __future__ import annotations

import io
from typing import Any, Callable, Dict, Iterable, Iterator, Optional

from strangler_app import protocol
from strangler_app import scope as _scope
from strangler_app.asgi import Answer, Gate, Headers, path_with_query
from strangler_app.protocol import PROBE_PATH, VALID, WRITE_METHODS

ENVIRON_KEY = "strangler.dry_run"
_STATUS_TEXT = {200: "200 OK", 403: "403 Forbidden"}
Environ = Dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], Any]]  # (status, headers, exc_info=None) -> write
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


class DryRunMiddleware:
    def __init__(self, app: WSGIApp, key: str, window_s: float = protocol.DEFAULT_WINDOW_S, sessions: Any = None,
                 engine: Any = None) -> None:
        self.app = app
        self.gate = Gate(key, window_s, sessions, engine)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ[ENVIRON_KEY] = False
        method = environ.get("REQUEST_METHOD", "GET").upper()
        probe = environ.get("PATH_INFO", "") == PROBE_PATH
        signature: Optional[str] = environ.get("HTTP_X_STRANGLER_SHADOW")
        if not probe and (signature is None or method not in WRITE_METHODS):
            return self.app(environ, start_response)
        body = _read_body(environ)
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")  # gunicorn / uWSGI: the path as sent
        path = raw if raw else path_with_query(_wsgi_path(environ), environ.get("QUERY_STRING", ""))
        verdict = self.gate.verdict(method, path, body, signature) if method in WRITE_METHODS else protocol.ABSENT
        if verdict != VALID or signature is None:  # (VALID needs a signature)
            return _answer(start_response, self.gate.refused(method, path, verdict))
        environ[ENVIRON_KEY] = True
        request_scope = _scope.DryRunScope()
        token = _scope.enter(request_scope)
        if probe:
            try:
                status, headers, content = self.gate.probe_answer()
                return _answer(start_response, (status, headers + self.gate.ack_headers(signature, status), content))
            finally:
                _scope.leave(token)
                request_scope.close()

        sig = signature

        def acknowledged(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], Any]:
            code = int(status.split(" ", 1)[0])
            return start_response(status, list(headers) + self.gate.ack_headers(sig, code), exc_info)

        try:
            result = self.app(environ, acknowledged)
        except BaseException:
            _scope.leave(token)
            request_scope.close()
            raise
        _scope.leave(token)
        return _Closing(result, request_scope)


class _Closing:
    """The app's body iterable; the dry-run scope (and the request's transaction) closes after it."""

    def __init__(self, result: Iterable[bytes], request_scope: _scope.DryRunScope) -> None:
        self.result, self.request_scope = result, request_scope

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.request_scope.close()


def _read_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    body = stream.read(length) if (stream is not None and length > 0) else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _wsgi_path(environ: Environ) -> str:
    path: str = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    return path.encode("latin-1").decode("latin-1")


def _answer(start_response: StartResponse, answer: Answer) -> Iterable[bytes]:
    status, headers, body = answer
    start_response(_STATUS_TEXT.get(status, str(status)), headers)
    return [body]


def is_dry_run(environ: Environ) -> bool:
    """True when this WSGI request is a verified shadow copy (in Flask: is_dry_run(request.environ))."""
    return bool(environ.get(ENVIRON_KEY))
