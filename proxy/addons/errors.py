"""JSON error answers made by the façade itself, including for errors mitmproxy reports on its own.

Responses the façade decides in a hook (403, 413, 503...) are ordinary `flow.response`s. But when the
upstream connection fails or times out, mitmproxy writes its own HTML error page (in `Http1Server.send`)
after the `error` hook, with no way for an addon to supply the body. We wrap that one method so the answer
is JSON: the `error` hook (which has the flow) files the body under the client connection id, and the
wrapper sends it. One HTTP/1 connection has at most one request in flight, so the id identifies the flow.
If the wrapper cannot be installed (a future mitmproxy), the façade keeps working with mitmproxy's HTML.
"""
from __future__ import annotations

import json
import logging

from mitmproxy import http

log = logging.getLogger("strangler.facade")

_pending: dict[str, tuple[int, bytes, dict[str, str]]] = {}
_MAX_PENDING = 10_000
_installed = False


def error_body(status: int, code: str, message: str, request_id: str | None = None, **extra) -> bytes:
    body = {"error": code, "status": status, "message": message, **extra}
    if request_id:
        body["request_id"] = request_id
    return json.dumps(body).encode()


def json_error(status: int, code: str, message: str, request_id: str | None = None, **extra) -> http.Response:
    """A façade-made JSON error response (`Connection: close` is left to mitmproxy)."""
    return http.Response.make(status, error_body(status, code, message, request_id, **extra),
                              {"Content-Type": "application/json", "Cache-Control": "no-store"})


def file_protocol_error(client_id: str, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
    """Remember the JSON body for the protocol error mitmproxy is about to send on this client connection."""
    if len(_pending) >= _MAX_PENDING:
        _pending.clear()
    _pending[client_id] = (status, body, headers or {})


def forget(client_id: str) -> None:
    _pending.pop(client_id, None)


def installed() -> bool:
    return _installed


def install() -> bool:
    """Wrap mitmproxy's HTTP/1 server-side error writer once per process. Returns True when active."""
    global _installed
    if _installed:
        return True
    try:
        from mitmproxy.connection import ConnectionState
        from mitmproxy.net.http import http1
        from mitmproxy.proxy import commands
        from mitmproxy.proxy.layers.http import _http1
        from mitmproxy.proxy.layers.http._events import ResponseProtocolError

        original = _http1.Http1Server.send
    except (ImportError, AttributeError) as exc:  # pragma: no cover - only on an incompatible mitmproxy
        log.warning("JSON error pages unavailable with this mitmproxy (%s); HTML errors will be sent", exc)
        return False

    def send(self, event):
        if (isinstance(event, ResponseProtocolError) and not self.response
                and self.conn.state & ConnectionState.CAN_WRITE):
            status = event.code.http_status_code()
            if status is not None:
                filed = _pending.pop(self.conn.id, None)
                if filed is None:
                    filed = (status, error_body(status, _code_for(status), event.message), {})
                response = http.Response.make(filed[0], filed[1], {"Content-Type": "application/json",
                                                                   "Cache-Control": "no-store",
                                                                   "Connection": "close", **filed[2]})
                yield commands.SendData(self.conn, http1.assemble_response(response))
                yield commands.CloseConnection(self.conn)
                return
        yield from original(self, event)

    send.__wrapped__ = original  # type: ignore[attr-defined]
    _http1.Http1Server.send = send
    _installed = True
    return True


def _code_for(status: int) -> str:
    return {400: "bad_request", 413: "body_too_large", 502: "bad_gateway", 504: "upstream_timeout"}.get(
        status, "proxy_error")
