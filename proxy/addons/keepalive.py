"""Upstream keep-alive hygiene: no reuse after a 5xx, one retry of an idempotent request on a stale connection.

mitmproxy keeps an upstream connection per client connection and reuses it for that client's next request.
A server that fails (uvicorn after an unhandled error) answers 500 and then closes the connection; the next
request, sent on it before the close is seen, meets "server closed connection" (a 502 that was never the
service's answer). So:
- `retire(flow)` closes the upstream connection of a response >= 500 (called from the response hook, i.e.
  before the client can send its next request), so the next request always gets a fresh connection;
- a request whose *kept-alive* connection was closed before any response byte is sent again, once, on a new
  connection, if its method is idempotent and its body was buffered (nginx's behaviour for a failed cached
  connection with `proxy_next_upstream error`; POST/PATCH are never retried). A fresh connection closed
  before any byte is a real upstream failure: no retry.
mitmproxy has no hook at that point (the stream turns the close into an error itself), so `install` wraps
`HttpStream.handle_protocol_error`; without it (another mitmproxy) the façade works, minus the retry.
The same wrapper marks a flow whose upstream connection could not be opened (mitmproxy's CONNECT_FAILED):
the `error` hook only sees a message, and after a refused retry `flow.server_conn` still names the first,
kept-alive connection, so "was a connection ever set up" alone would call the refusal a protocol error.
"""
from __future__ import annotations

import logging

from mitmproxy import ctx, http

log = logging.getLogger("strangler.facade")
RETRIED_META = "strangler_retried"
CONNECT_FAILED_META = "strangler_connect_failed"
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
CLOSED_MESSAGE = "server closed connection"  # mitmproxy's Http1Client: closed with no response byte read
_installed = False


def reused(flow: http.HTTPFlow) -> bool:
    """The flow's upstream connection was opened before this request arrived (a kept-alive one)."""
    setup = flow.server_conn.timestamp_tcp_setup if flow.server_conn else None
    return setup is not None and flow.request.timestamp_start is not None and setup < flow.request.timestamp_start


def stale(flow: http.HTTPFlow) -> bool:
    """The request failed only because a kept-alive connection was closed before any response byte."""
    return flow.error is not None and flow.error.msg == CLOSED_MESSAGE and flow.response is None and reused(flow)


def connect_failed(flow: http.HTTPFlow) -> bool:
    """No upstream connection could be opened for this attempt (refused, vetoed, unresolvable)."""
    server = flow.server_conn
    return CONNECT_FAILED_META in flow.metadata or server is None or server.timestamp_tcp_setup is None


def retire(flow: http.HTTPFlow) -> None:
    """Close this flow's upstream connection now, so no later request of the client reuses it."""
    server = flow.server_conn
    if server is None or not server.connected:
        return
    handler = ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
    if handler is not None and server in handler.transports:
        handler.close_connection(server)


def install() -> bool:
    """Wrap mitmproxy's per-stream protocol-error handler once per process. Returns True when active."""
    global _installed
    if _installed:
        return True
    try:
        from mitmproxy.proxy.layers.http import HttpStream, SendHttp
        from mitmproxy.proxy.layers.http._events import (
            ErrorCode,
            RequestData,
            RequestEndOfMessage,
            RequestHeaders,
            RequestTrailers,
            ResponseProtocolError,
        )
        original = HttpStream.handle_protocol_error
    except (ImportError, AttributeError) as exc:  # pragma: no cover - only on an incompatible mitmproxy
        log.warning("upstream retries unavailable with this mitmproxy (%s)", exc)
        return False

    def retryable(stream, event) -> bool:
        flow = stream.flow
        return (isinstance(event, ResponseProtocolError) and event.code is ErrorCode.GENERIC_SERVER_ERROR
                and event.message == CLOSED_MESSAGE and flow.response is None and flow.live
                and flow.error is None and not flow.request.stream and RETRIED_META not in flow.metadata
                and flow.request.method.upper() in IDEMPOTENT and stream.client_state == stream.state_done
                and stream.server_state == stream.state_wait_for_response_headers and reused(flow))

    def handle_protocol_error(self, event):
        if isinstance(event, ResponseProtocolError) and event.code is ErrorCode.CONNECT_FAILED:
            self.flow.metadata[CONNECT_FAILED_META] = True  # (before the error hook runs, in `original`)
        if not retryable(self, event):
            yield from original(self, event)
            return
        self.flow.metadata[RETRIED_META] = True
        if not (yield from self.make_server_connection()):
            return  # make_server_connection reported the connect error itself
        req = self.flow.request
        content = req.raw_content
        yield SendHttp(RequestHeaders(self.stream_id, req, not (content or req.trailers)), self.context.server)
        if content:
            yield SendHttp(RequestData(self.stream_id, content), self.context.server)
        if req.trailers:
            yield SendHttp(RequestTrailers(self.stream_id, req.trailers), self.context.server)
        yield SendHttp(RequestEndOfMessage(self.stream_id), self.context.server)

    handle_protocol_error.__wrapped__ = original  # type: ignore[attr-defined]
    HttpStream.handle_protocol_error = handle_protocol_error  # type: ignore[method-assign]  # (the patch itself)
    _installed = True
    return True
