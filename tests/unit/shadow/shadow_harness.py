"""Harness for the shadow/rollback unit tests: the real façade addons in a mitmproxy test master, inside a
running event loop (so the shadow tasks really run), with upstreams answered by an httpx.MockTransport."""
from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from mitmproxy import hooks
from mitmproxy.proxy.layers.http import (
    HttpErrorHook,
    HttpRequestHeadersHook,
    HttpRequestHook,
    HttpResponseHook,
)
from mitmproxy.test import taddons, tflow

from proxy.addons.rollback import Rollback
from proxy.addons.routing import Router
from proxy.addons.shadow import Shadow
from proxy.addons.state import FacadeState
from proxy.addons.upstream import UpstreamGuard
from proxy.parity import ParityStore

LEGACY_PORT, SVC_PORT, PLAIN_PORT = 5000, 8101, 8102
TABLE = """\
upstreams:
  legacy: {url: "http://127.0.0.1:5000", timeout_s: 2}
  svc: {url: "http://127.0.0.1:8101", dry_run_writes: true, timeout_s: 2}
  plain: {url: "http://127.0.0.1:8102", timeout_s: 2}
default: legacy
features:
  items:
    target: svc
    state: STATE
    canary_percent: PERCENT
    routes:
      - {methods: [GET, HEAD, POST, PUT], path: "/api/items/{id}"}
    parity: PARITY
    rollback: ROLLBACK
  notes:
    target: plain
    state: shadow
    routes:
      - {methods: [GET, POST], path: "/api/notes/{id}"}
"""


def table_text(state: str = "shadow", percent: float = 0, parity: str = "{}", rollback: str = "{}") -> str:
    return (TABLE.replace("STATE", state).replace("PERCENT", str(percent)).replace("PARITY", parity)
            .replace("ROLLBACK", rollback))


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Upstreams:
    """Answers copies per port; remembers every request; `gate` (when set) holds answers until released."""

    def __init__(self):
        self.seen: list[httpx.Request] = []
        self.bodies: dict[int, dict] = {LEGACY_PORT: {"id": 7, "price": "1.00"}, SVC_PORT: {"id": 7, "price": "1.00"},
                                        PLAIN_PORT: {"id": 7}}
        self.status: dict[int, int] = {}
        self.gate: asyncio.Event | None = None
        self.stamped = False  # add a field that changes on every answer (a server clock)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.gate is not None:
            await self.gate.wait()
        port = request.url.port
        body = {**self.bodies[port], "stamp": len(self.seen)} if self.stamped else self.bodies[port]
        return httpx.Response(self.status.get(port, 200), json=body)

    def at(self, port: int) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.port == port]


class Rig:
    def __init__(self, tctx, routes: Path, store: ParityStore, seed: int = 1):
        self.tctx, self.routes, self.store = tctx, routes, store
        self.upstreams = Upstreams()
        self.state = FacadeState()
        self.shadow = Shadow(self.state, transport=httpx.MockTransport(self.upstreams), store=store,
                             rng=random.Random(seed))
        self.rollback = Rollback(self.state, self.shadow)
        self.chain = (self.state, Router(self.state), UpstreamGuard(self.state), self.shadow, self.rollback)
        for addon in self.chain:
            tctx.master.addons.register(addon)
        tctx.options.update(strangler_routes=str(routes), mode=["reverse:http://127.0.0.1:5000@8080"],
                            strangler_parity_db=str(store.path))
        tctx.master.addons.chain.extend(self.chain)
        for addon in self.chain:
            tctx.master.addons.invoke_addon_sync(addon, hooks.ConfigureHook(set(tctx.options.keys())))
        self.shadow.running()

    def metric(self, name: str, **labels) -> float:
        return self.state.metrics.registry.get_sample_value(name, labels) or 0.0

    def write(self, text: str) -> None:
        self.routes.write_text(text)
        assert self.state.reload()

    def trigger(self, hook) -> None:
        for addon in self.chain:
            self.tctx.master.addons.invoke_addon_sync(addon, hook)

    def send(self, method: str = "GET", path: str = "/api/items/7", body: bytes = b"",
             headers: dict | None = None) -> tflow.HTTPFlow:
        f = tflow.tflow()
        f.request.method, f.request.path = method, path
        f.request.host, f.request.port = "127.0.0.1", 5000
        f.request.headers.clear()
        f.request.headers["Host"] = "127.0.0.1:5000"
        for k, v in (headers or {}).items():
            f.request.headers[k] = v
        f.request.content = body
        f.response = None
        f.server_conn.timestamp_tcp_setup = None
        self.trigger(HttpRequestHeadersHook(f))
        self.trigger(HttpRequestHook(f))
        return f

    def answer(self, f: tflow.HTTPFlow, status: int = 200, body: dict | None = None) -> tflow.HTTPFlow:
        """The served side's answer (what the client gets)."""
        if f.response is None:
            f.response = tflow.tresp(status_code=status, content=json.dumps(body if body is not None else
                                                                          {"id": 7, "price": "1.00"}).encode())
            f.response.headers["Content-Type"] = "application/json"
        self.trigger(HttpResponseHook(f))
        return f

    def fail(self, f: tflow.HTTPFlow, kind: str = "connect") -> tflow.HTTPFlow:
        from mitmproxy import flow as mflow

        f.metadata["strangler"].error_kind = kind
        f.error = mflow.Error("[Errno 111] Connect call failed")
        self.trigger(HttpErrorHook(f))
        return f

    async def settle(self) -> None:
        """Wait (bounded) for every shadow task started so far."""
        for _ in range(200):
            if not self.shadow.tasks:
                return
            await asyncio.wait(list(self.shadow.tasks), timeout=2)


def run(routes: Path, body: Callable[[Rig], Awaitable[None]], seed: int = 1) -> None:
    """Run `body(rig)` inside a fresh event loop with the addons registered in a mitmproxy test master."""
    async def main() -> None:
        store = ParityStore(routes.parent / "parity.db", background=False)
        try:
            with taddons.context() as tctx:
                rig = Rig(tctx, routes, store, seed)
                try:
                    await body(rig)
                finally:
                    await rig.settle()
                    await rig.rollback.done()
                    await rig.shadow.clients.aclose()
        finally:
            store.close()

    asyncio.run(main())
