"""Pooled HTTP clients for shadow copies: per upstream (URL + timeout) one pool of keep-alive connections.

Why pooled: a shadow copy per request must not pay a TCP handshake each time, and the pool size bounds the
connections the copies can open. Why the upstream's own timeout: a hanging target must free its in-flight
slot as the live path would (the timeout makes the copy an error, never a hang). Only the table's upstream
URLs are dialled (no proxy variable can divert a copy away from the loopback upstreams of the table).

The network is spoken by proxy/shadow/wire.py (a lean HTTP/1.1 client: httpx cost more worker CPU per copy
than the comparison, issue 21). Unit tests that fake the upstreams hand an httpx transport instead
(`UpstreamClients(transport)`, e.g. httpx.MockTransport): the same requests then go through one httpx client
per upstream, so the engine is tested as it runs, only the far side is scripted.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import httpx

from proxy.parity import Response
from proxy.shadow.wire import WireError, WirePool
from proxy.table import Upstream

HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
                        "upgrade", "proxy-connection", "proxy-authorization", "proxy-authenticate", "expect"})


@dataclass(frozen=True, slots=True)
class Outcome:
    """One copy's result: a response, or an error kind (timeout | connect | protocol) with its message."""

    response: Response | None
    latency_ms: float
    error_kind: str | None = None
    error: str | None = None


@dataclass(slots=True)
class Request:
    """A request as it will go on the wire: `raw_path` is the target sent (what a signature must cover)."""

    method: str
    raw_path: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class UpstreamClients:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, max_connections: int = 64):
        self._transport = transport  # tests inject httpx.MockTransport; None = the real network (wire.py)
        self.max_connections = max_connections
        self._pools: dict[tuple[str, float], WirePool] = {}
        self._httpx: dict[tuple[str, float], httpx.AsyncClient] = {}

    def pool(self, upstream: Upstream) -> WirePool:
        key = (upstream.url, upstream.timeout_s)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = WirePool(upstream.url, self.max_connections)
        return pool

    def build(self, upstream: Upstream, method: str, path: str, headers: list[tuple[str, str]],
              body: bytes) -> Request:
        return Request(method, self.pool(upstream).target(path), list(headers), body)

    async def send(self, upstream: Upstream, request: Request) -> Outcome:
        started = time.perf_counter()
        if self._transport is not None:
            return await self._send_httpx(upstream, request, started)
        try:
            status, headers, body = await self.pool(upstream).request(
                request.method, request.raw_path, request.headers, request.body, upstream.timeout_s)
        except WireError as exc:
            return Outcome(None, _ms(started), exc.kind, str(exc))
        return Outcome(Response(status, tuple(headers), decoded(headers, body)), _ms(started))  # names lower-cased

    async def _send_httpx(self, upstream: Upstream, request: Request, started: float) -> Outcome:
        key = (upstream.url, upstream.timeout_s)
        client = self._httpx.get(key)
        if client is None:
            client = self._httpx[key] = httpx.AsyncClient(
                timeout=httpx.Timeout(upstream.timeout_s), trust_env=False, follow_redirects=False,
                transport=self._transport)
        url = self.pool(upstream)
        try:
            resp = await client.send(client.build_request(
                request.method, f"{'https' if url.tls else 'http'}://{url.host_header}{request.raw_path}",
                headers=request.headers, content=request.body or None))
        except httpx.TimeoutException as exc:
            return Outcome(None, _ms(started), "timeout", f"{type(exc).__name__}: no answer in {upstream.timeout_s:g}s")
        except httpx.ConnectError as exc:
            return Outcome(None, _ms(started), "connect", f"ConnectError: {exc}")
        except httpx.HTTPError as exc:
            return Outcome(None, _ms(started), "protocol", f"{type(exc).__name__}: {exc}")
        return Outcome(Response.of(resp.status_code, resp.headers.multi_items(), resp.content), _ms(started))

    async def aclose(self) -> None:
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
        clients, self._httpx = list(self._httpx.values()), {}
        for client in clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), timeout=2)


def decoded(headers: list[tuple[str, str]] | tuple[tuple[str, str], ...], body: bytes) -> bytes:
    """The body as the client reads it: a Content-Encoding (gzip, deflate, br, zstd) undone; an undecodable
    one is compared as sent (as mitmproxy's get_content(strict=False) would)."""
    encoding = next((v.strip().lower() for k, v in headers if k.lower() == "content-encoding"), "")
    if not encoding or encoding == "identity" or not body:
        return body
    from mitmproxy.net.encoding import decode

    with contextlib.suppress(ValueError):
        out = decode(body, encoding)
        return out if isinstance(out, bytes) else out.encode()
    return body


def copy_headers(items: list[tuple[str, str]], drop: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """Request headers for a copy: hop-by-hop, Host (the client sets the target's) and `drop` removed."""
    return [(k, v) for k, v in items if (low := k.lower()) not in HOP_BY_HOP and low not in drop]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
