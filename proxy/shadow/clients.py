"""Pooled HTTP clients for shadow copies: one httpx.AsyncClient per upstream (URL + timeout), reused.

Why pooled: a shadow copy per request must not pay a TCP handshake each time, and the pool size bounds the
connections the copies can open. Why the upstream's own timeout: a hanging target must free its in-flight
slot as the live path would (the timeout makes the copy an error, never a hang). `trust_env=False`: a
HTTP(S)_PROXY variable must never divert copies away from the loopback upstreams of the table.

Why several clients per upstream (SHARDS, requests spread round-robin): httpcore's pool scans every connection
for every request it assigns and every answer it releases, and its idle-connection check is quadratic in the
pool's size. At 64 copies in flight that scan cost more CPU than the comparison itself (profiled: 2.9 ms of
worker CPU per copy with one pool, 1.1 ms with 16 pools of 4), and the copies stay bounded by `max_connections`.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from dataclasses import dataclass

import httpx

from proxy.parity import Response
from proxy.table import Upstream

HOP_BY_HOP = frozenset({"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
                        "upgrade", "proxy-connection", "proxy-authorization", "proxy-authenticate", "expect"})
SHARDS = 16  # pools per upstream (see the module docstring)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One copy's result: a response, or an error kind (timeout | connect | protocol) with its message."""

    response: Response | None
    latency_ms: float
    error_kind: str | None = None
    error: str | None = None


class UpstreamClients:
    def __init__(self, transport: httpx.AsyncBaseTransport | None = None, max_connections: int = 64,
                 shards: int = SHARDS):
        self._transport = transport  # tests inject httpx.MockTransport; None = real network
        self._shards = max(1, min(shards, max_connections))
        self._per_shard = max(1, max_connections // self._shards)
        self._clients: dict[tuple[str, float], list[httpx.AsyncClient]] = {}
        self._turn = itertools.count()

    def client(self, upstream: Upstream) -> httpx.AsyncClient:
        """The next of the upstream's pools, round-robin (all configured alike)."""
        key = (upstream.url, upstream.timeout_s)
        pools = self._clients.get(key)
        if pools is None:
            pools = self._clients[key] = [httpx.AsyncClient(
                base_url=upstream.url, timeout=httpx.Timeout(upstream.timeout_s), trust_env=False,
                follow_redirects=False, transport=self._transport,
                limits=httpx.Limits(max_connections=self._per_shard, max_keepalive_connections=self._per_shard))
                for _ in range(self._shards)]
        return pools[next(self._turn) % len(pools)]

    def build(self, upstream: Upstream, method: str, path: str, headers: list[tuple[str, str]],
              body: bytes) -> httpx.Request:
        """The request as it will go on the wire (its `url.raw_path` is what a signature must cover)."""
        return self.client(upstream).build_request(method, path, headers=headers, content=body or None)

    async def send(self, upstream: Upstream, request: httpx.Request) -> Outcome:
        started = time.perf_counter()
        try:
            resp = await self.client(upstream).send(request)
        except httpx.TimeoutException as exc:
            return Outcome(None, _ms(started), "timeout", f"{type(exc).__name__}: no answer in {upstream.timeout_s:g}s")
        except httpx.ConnectError as exc:
            return Outcome(None, _ms(started), "connect", f"ConnectError: {exc}")
        except httpx.HTTPError as exc:
            return Outcome(None, _ms(started), "protocol", f"{type(exc).__name__}: {exc}")
        return Outcome(Response.of(resp.status_code, resp.headers.multi_items(), resp.content), _ms(started))

    async def aclose(self) -> None:
        clients, self._clients = [c for pools in self._clients.values() for c in pools], {}
        for client in clients:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.aclose(), timeout=2)


def copy_headers(items: list[tuple[str, str]], drop: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """Request headers for a copy: hop-by-hop, Host (the client sets the target's) and `drop` removed."""
    return [(k, v) for k, v in items if k.lower() not in HOP_BY_HOP and k.lower() not in drop]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
