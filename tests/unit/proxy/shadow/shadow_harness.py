"""Harness for the shadow/rollback unit tests: the real façade addons in a mitmproxy test master, inside a
running event loop, with the real shadow worker core (proxy/shadow/worker.py) plugged in in-process instead
of a child process: the same messages (pickled and unpickled, as over the pipe) and the same event batches.
Upstreams are answered by an httpx.MockTransport. The real process and pipe are covered by
tests/integration/shadow and test_worker_process.py."""
from __future__ import annotations

import asyncio
import json
import os
import pickle
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
from strangler_app import protocol

from proxy.addons.rollback import Rollback
from proxy.addons.routing import Router
from proxy.addons.shadow import Shadow
from proxy.addons.state import FacadeState
from proxy.addons.upstream import UpstreamGuard
from proxy.parity import ParityStore
from proxy.shadow.engine import Engine
from proxy.shadow.worker import WorkerCore, batch_events

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
    writes_owner: OWNER
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


def table_text(state: str = "shadow", percent: float = 0, parity: str = "{}", rollback: str = "{}",
               writes_owner: str = "legacy") -> str:
    return (TABLE.replace("STATE", state).replace("OWNER", writes_owner).replace("PERCENT", str(percent))
            .replace("PARITY", parity).replace("ROLLBACK", rollback))


Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class Upstreams:
    """Answers copies per port; remembers every request; `gate` (when set) holds answers until released.
    The dry-run target (SVC_PORT) cooperates like strangler_app's middleware: it answers the probe route and
    acknowledges signed requests with `key` (default: $STRANGLER_SHADOW_KEY) unless `cooperates` is False;
    probes are kept apart in `probes`."""

    def __init__(self, key: str | None = None):
        self.key = key
        self.cooperates = True
        self.probes: list[httpx.Request] = []
        self.seen: list[httpx.Request] = []
        self.bodies: dict[int, dict] = {LEGACY_PORT: {"id": 7, "price": "1.00"}, SVC_PORT: {"id": 7, "price": "1.00"},
                                        PLAIN_PORT: {"id": 7}}
        self.status: dict[int, int] = {}
        self.gate: asyncio.Event | None = None
        self.stamped = False  # add a field that changes on every answer (a server clock)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        port, signature = request.url.port, request.headers.get(protocol.HEADER)
        if request.url.path == protocol.PROBE_PATH:
            self.probes.append(request)
            status = 200 if self.cooperates and port == SVC_PORT else 404
            return httpx.Response(status, json={}, headers=self._ack(port, signature, status))
        self.seen.append(request)
        if self.gate is not None:
            await self.gate.wait()
        body = {**self.bodies[port], "stamp": len(self.seen)} if self.stamped else self.bodies[port]
        status = self.status.get(port, 200)
        return httpx.Response(status, json=body, headers=self._ack(port, signature, status))

    def _ack(self, port: int, signature: str | None, status: int) -> dict[str, str]:
        key = self.key or os.environ.get("STRANGLER_SHADOW_KEY", "")
        if not (self.cooperates and port == SVC_PORT and signature and key):
            return {}
        return {protocol.ACK_HEADER: protocol.ack(key, signature, status)}

    def at(self, port: int) -> list[httpx.Request]:
        return [r for r in self.seen if r.url.port == port]


class InProcessLink:
    """The worker core in this process, speaking the pipe's messages; events come back in a later loop turn."""

    def __init__(self, store: ParityStore, transport: httpx.AsyncBaseTransport, on_events, on_start, on_lost):
        self.engine = Engine(store, os.environ.get("STRANGLER_SHADOW_KEY", ""), self._emit, transport=transport)
        self.core = WorkerCore(self.engine)
        self.on_events, self.on_start, self.on_lost = on_events, on_start, on_lost
        self.up, self.pid, self.sent = False, os.getpid(), 0
        self._events: list = []

    async def start(self) -> None:
        self.up = True
        for message in self.on_start():
            self.send(message, force=True)

    def send(self, message: tuple, *, force: bool = False) -> bool:
        if not self.up:
            return False
        self.sent += 1
        self.core.handle(pickle.loads(pickle.dumps(message)))
        return True

    def _emit(self, event: tuple) -> None:
        if not self._events:
            asyncio.get_running_loop().call_soon(self._deliver)
        self._events.append(event)

    def _deliver(self) -> None:
        events, self._events = pickle.loads(pickle.dumps(batch_events(self._events))), []
        self.on_events(events)

    async def stop(self) -> None:
        self.up = False
        await self.core.drain(5)
        await self.engine.aclose()
        if self._events:
            self._deliver()


class Rig:
    def __init__(self, tctx, routes: Path, store: ParityStore, seed: int = 1):
        self.tctx, self.routes, self.store = tctx, routes, store
        self.upstreams = Upstreams()
        self.state = FacadeState()
        self.link: InProcessLink | None = None

        def link_factory(db, on_events, on_start, on_lost) -> InProcessLink:
            assert str(db) == str(store.path)
            self.link = InProcessLink(store, httpx.MockTransport(self.upstreams), on_events, on_start, on_lost)
            return self.link

        self.shadow = Shadow(self.state, link_factory=link_factory, rng=random.Random(seed))
        self.rollback = Rollback(self.state, self.shadow)
        self.chain = (self.state, Router(self.state), UpstreamGuard(self.state), self.shadow, self.rollback)
        for addon in self.chain:
            tctx.master.addons.register(addon)
        tctx.options.update(strangler_routes=str(routes), mode=["reverse:http://127.0.0.1:5000@8080"],
                            strangler_parity_db=str(store.path))
        tctx.master.addons.chain.extend(self.chain)
        for addon in self.chain:
            tctx.master.addons.invoke_addon_sync(addon, hooks.ConfigureHook(set(tctx.options.keys())))

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
        """Wait (bounded) for every shadow exchange started so far and for its events to reach the façade."""
        for _ in range(200):
            if self.link.core.tasks:
                await asyncio.wait(list(self.link.core.tasks), timeout=2)
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            if not self.link.core.tasks and not self.link._events:
                return


def run(routes: Path, body: Callable[[Rig], Awaitable[None]], seed: int = 1) -> None:
    """Run `body(rig)` inside a fresh event loop with the addons registered in a mitmproxy test master."""
    async def main() -> None:
        store = ParityStore(routes.parent / "parity.db", background=False)
        try:
            with taddons.context() as tctx:
                rig = Rig(tctx, routes, store, seed)
                await rig.shadow.running()
                try:
                    await body(rig)
                finally:
                    await rig.settle()
                    await rig.rollback.done()
                    await rig.shadow.done()
        finally:
            store.close()

    asyncio.run(main())
