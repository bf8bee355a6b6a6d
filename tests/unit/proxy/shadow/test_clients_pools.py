"""Shadow copies spread over several small connection pools per upstream (httpcore's pool scan is quadratic in
its size: issue 21), still bounded by max_connections in all, and every copy is answered."""
from __future__ import annotations

import asyncio

import httpx

from proxy.shadow.clients import UpstreamClients
from proxy.table import Upstream


def test_pools_round_robin_and_bounded():
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"ok": True})

    async def run() -> list[int]:
        clients = UpstreamClients(httpx.MockTransport(answer), max_connections=8, shards=4)
        up = Upstream(url="http://127.0.0.1:1")
        pools = {id(clients.client(up)) for _ in range(8)}
        assert len(pools) == 4
        outcomes = await asyncio.gather(*(clients.send(up, clients.build(up, "GET", f"/p/{i}", [], b""))
                                          for i in range(20)))
        await clients.aclose()
        return [o.response.status for o in outcomes if o.response is not None]

    assert asyncio.run(run()) == [200] * 20
    assert sorted(seen) == sorted(f"/p/{i}" for i in range(20))


def test_real_pools_share_the_connection_bound():
    clients = UpstreamClients(max_connections=64, shards=16)
    up = Upstream(url="http://127.0.0.1:1")
    pools = {id(c): c for c in (clients.client(up) for _ in range(32))}
    assert len(pools) == 16
    assert sum(c._transport._pool._max_connections for c in pools.values()) == 64  # type: ignore[attr-defined]
    asyncio.run(clients.aclose())


def test_more_shards_than_connections_is_capped():
    clients = UpstreamClients(max_connections=2, shards=16)
    up = Upstream(url="http://127.0.0.1:1")
    assert len({id(clients.client(up)) for _ in range(10)}) == 2
    asyncio.run(clients.aclose())
