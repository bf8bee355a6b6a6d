"""JSON error answers made by the façade itself, including for errors mitmproxy reports on its own.

Responses the façade decides in a hook (403, 413, 503...) are ordinary `flow.response`s. But when the
upstream connection fails or times out, mitmproxy writes its own HTML error page (in `Http1Server.send`)
after the `error` hook, with no way for an addon to supply the body. We wrap that one method so the answer
is JSON: the `error` hook (which has the flow) files the body under the client connection id, and the
wrapper sends it. One HTTP/1 connection has at most one request in flight, so the id identifies the flow.
If the wrapper cannot be installed (a future mitmproxy), the façade keeps working with mitmproxy's HTML.

A refusal decided while the request body is still to come (413 by Content-Length, or any refusal of a body
mitmproxy has decided to stream) cannot be a `flow.response`: mitmproxy would go on to stream or buffer the
body first. `answer_at_once` files the answer and kills the flow; the wrapper sends it right away, then
half-closes and keeps reading (and dropping) the rest of the body for at most LINGER_SECONDS before closing
— nginx's lingering close — so a client still uploading reads the answer instead of a connection reset.
"""
from __future__ import annotations

import asyncio
import json
import logging

from mitmproxy import ctx, http

log = logging.getLogger("strangler.facade")
ANSWERED_META = "strangler_answered"  # status of an answer sent by `answer_at_once` (for the access log)
LINGER_SECONDS = 10.0

_pending: dict[str, tuple[int, bytes, dict[str, str], bool]] = {}
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


def file_protocol_error(client_id: str, status: int, body: bytes, headers: dict[str, str] | None = None,
                        linger: bool = False) -> None:
    """Remember the JSON body for the protocol error mitmproxy is about to send on this client connection.
    `linger`: the client may still be sending its body (answer even a killed flow, then lingering close)."""
    if len(_pending) >= _MAX_PENDING:
        _pending.clear()
    _pending[client_id] = (status, body, headers or {}, linger)


def answer_at_once(flow: http.HTTPFlow, response: http.Response) -> None:
    """Answer `response` now, in the requestheaders hook, without reading (or forwarding) the body."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "connection")}
    file_protocol_error(flow.client_conn.id, response.status_code, response.content or b"", headers, linger=True)
    flow.metadata[ANSWERED_META] = response.status_code
    flow.request.stream = False
    flow.kill()


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
        if (isinstance(event, ResponseProtocolError) and self.conn.state & ConnectionState.CAN_WRITE
                and (not self.response or self.response.status_code < 200)):  # (a `100 Continue` may be out)
            status = event.code.http_status_code()
            filed = _pending.get(self.conn.id)
            if filed is None and status is not None:
                filed = (status, error_body(status, _code_for(status), event.message), {}, False)
            if filed is not None and (status is not None or filed[3]):  # a killed flow: only if answered at once
                _pending.pop(self.conn.id, None)
                response = http.Response.make(filed[0], filed[1], {"Content-Type": "application/json",
                                                                   "Cache-Control": "no-store", **filed[2],
                                                                   "Connection": "close"})
                yield commands.SendData(self.conn, http1.assemble_response(response))
                if filed[3]:
                    yield commands.CloseTcpConnection(self.conn, half_close=True)
                    asyncio.get_running_loop().call_later(LINGER_SECONDS, _close, self.conn)
                else:
                    yield commands.CloseConnection(self.conn)
                return
        yield from original(self, event)

    send.__wrapped__ = original  # type: ignore[attr-defined]
    _http1.Http1Server.send = send  # type: ignore[method-assign]  # (the patch itself)
    _installed = True
    return True


def _close(conn) -> None:
    """End a lingering close: the client had LINGER_SECONDS to finish sending its body."""
    handler = ctx.master.addons.get("proxyserver").connections.get(conn.id)
    if handler is not None and conn in handler.transports and conn.state:
        handler.close_connection(conn)


def _code_for(status: int) -> str:
    return {400: "bad_request", 413: "body_too_large", 502: "bad_gateway", 504: "upstream_timeout"}.get(
        status, "proxy_error")
