"""Headers the façade owns (DESIGN §4): request id, W3C trace context, X-Forwarded-*, hop-by-hop stripping.

Client-supplied X-Forwarded-*/Forwarded values are dropped and rewritten, because upstreams trust them for
client address and scheme. The dry-run protocol's headers (X-Strangler-Shadow, X-Strangler-Dry-Run-Ack) are
the façade's alone: dropped from client requests and from answers to clients. A client X-Request-ID is kept
only when it looks like an id (bounded charset and length), so it cannot smuggle log-injection text.
traceparent is continued (same trace id, a new span id for the façade's hop) or started when absent/invalid.
Each message's header list is rebuilt in ONE pass over its raw fields (mitmproxy's per-header set/delete rescans
the list every time; this is the hot path).
"""
from __future__ import annotations

import os
import re

from strangler_app.identity import HEADER as IDENTITY_HEADER
from strangler_app.identity import REQUEST_HEADER as IDENTITY_REQUEST_HEADER
from strangler_app.protocol import ACK_HEADER, HEADER

HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "upgrade")
# framing (content-length / transfer-encoding) is left to mitmproxy, which re-frames every message itself
_FORWARDED = ("forwarded", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port",
              "x-real-ip")
_HOP_B = frozenset(n.encode() for n in HOP_BY_HOP)
_FRAMING_B = frozenset({b"content-length", b"transfer-encoding"})
_DRY_RUN_B = frozenset({HEADER.lower().encode(), ACK_HEADER.lower().encode()})
_REQUEST_DROP_B = _HOP_B | frozenset(n.encode() for n in _FORWARDED) | {b"host", b"x-request-id", b"traceparent"} \
    | _DRY_RUN_B | {IDENTITY_HEADER.lower().encode(), IDENTITY_REQUEST_HEADER.lower().encode()}  # the façade signs it
_RESPONSE_DROP_B = _HOP_B | {b"x-request-id", b"x-served-by", b"x-strangler-feature"} | _DRY_RUN_B
_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:\-]{8,128}$")
_TRACEPARENT = re.compile(rb"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_HOST = re.compile(rb"^[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_ZERO_TRACE, _ZERO_SPAN = b"0" * 32, b"0" * 16


def _is_websocket_upgrade(fields) -> bool:
    """A real WebSocket handshake (RFC 6455 §4): Upgrade: websocket and Connection listing 'upgrade'. Its two
    hop-by-hop headers must reach the other side, or the handshake (and mitmproxy's switch to WebSocket) fails."""
    upgrade = connection = False
    for k, v in fields:
        name = k.lower()
        if name == b"upgrade" and b"websocket" in v.lower():
            upgrade = True
        elif name == b"connection" and b"upgrade" in [t.strip() for t in v.lower().split(b",")]:
            connection = True
    return upgrade and connection


def _connection_listed(fields) -> frozenset[bytes]:
    """Header names listed in Connection (they are hop-by-hop too, RFC 9110 §7.6.1)."""
    listed: set[bytes] = set()
    for k, v in fields:
        if k.lower() == b"connection":
            listed.update(n.strip().lower() for n in v.split(b","))
    return frozenset(listed - _FRAMING_B - {b""})


def rewrite_request(headers, request_id: str, client_ip: str, proto: str, upstream_host: str) -> None:
    """Rebuild the request headers for the upstream (request_id from `request_id()`)."""
    fields = headers.fields
    extra_drop = _connection_listed(fields)
    websocket = _is_websocket_upgrade(fields)
    tp = original_host = None
    tracestate = True
    kept = []
    for field in fields:
        name = field[0].lower()
        if name in _REQUEST_DROP_B or name in extra_drop:
            if name == b"traceparent" and tp is None:
                tp = field[1].strip()
            elif name == b"host" and original_host is None:
                original_host = field[1]
            continue
        kept.append(field)
    if websocket:
        kept += [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]
    m = _TRACEPARENT.match(tp) if tp else None
    if m and m.group(1) != b"ff" and m.group(2) != _ZERO_TRACE and m.group(3) != _ZERO_SPAN:
        trace = b"00-%s-%s-%s" % (m.group(2), os.urandom(8).hex().encode(), m.group(4))
    else:
        trace = b"00-%s-%s-01" % (os.urandom(16).hex().encode(), os.urandom(8).hex().encode())
        tracestate = False  # tracestate belongs to a trace we are not continuing
    if not tracestate:
        kept = [f for f in kept if f[0].lower() != b"tracestate"]
    kept.insert(0, (b"Host", upstream_host.encode()))
    kept += [(b"X-Request-ID", request_id.encode()), (b"traceparent", trace), (b"X-Forwarded-For", client_ip.encode()),
             (b"X-Forwarded-Proto", proto.encode())]
    if original_host and _HOST.match(original_host):
        kept.append((b"X-Forwarded-Host", original_host))
    headers.fields = tuple(kept)


def request_id(headers) -> str:
    """The client's X-Request-ID when sane, else a new one (for answers the façade makes before routing)."""
    rid = headers.get("x-request-id")
    if rid is None or not _REQUEST_ID.match(rid.encode()):
        rid = os.urandom(16).hex()
    return rid


def rewrite_response(headers, request_id: str, served_by: str, feature: str | None, from_upstream: bool) -> None:
    """Strip hop-by-hop headers of an upstream answer and add the façade's own."""
    fields = headers.fields
    drop = _RESPONSE_DROP_B | _connection_listed(fields) if from_upstream else \
        frozenset({b"x-request-id", b"x-served-by", b"x-strangler-feature"})
    kept = [f for f in fields if f[0].lower() not in drop]
    if from_upstream and _is_websocket_upgrade(fields):  # a 101 switching to WebSocket keeps its handshake
        kept += [(b"Connection", b"Upgrade"), (b"Upgrade", b"websocket")]
    kept += [(b"X-Request-ID", request_id.encode()), (b"X-Served-By", served_by.encode())]
    if feature:
        kept.append((b"X-Strangler-Feature", feature.encode()))
    headers.fields = tuple(kept)
