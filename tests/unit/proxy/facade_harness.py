"""Harness for the façade unit tests: a route table file and the façade addons in a mitmproxy test context."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from mitmproxy import hooks
from mitmproxy.proxy.layers.http import HttpErrorHook, HttpRequestHeadersHook, HttpRequestHook, HttpResponseHook
from mitmproxy.test import taddons, tflow

from proxy.addons.guard import Guard
from proxy.addons.routing import Router
from proxy.addons.state import FacadeState
from proxy.addons.telemetry import Telemetry
from proxy.addons.upstream import UpstreamGuard

TABLE = """\
# test table
upstreams:
  legacy: {url: "http://127.0.0.1:5000"}
  svc: {url: "http://127.0.0.1:8101", timeout_s: 2.0, breaker: {failure_threshold: 2, open_seconds: 30}}
default: legacy
limits: {max_body_bytes: 100}
features:
  items:
    target: svc
    state: STATE
    canary_percent: PERCENT
    writes_owner: OWNER
    routes:
      - {methods: [GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE], path: "/api/items/{id}"}
      - {methods: [GET], path: "/api/items"}
  files:
    target: svc
    state: legacy
    routes:
      - {methods: ["*"], path: "/files/{rest:path}"}
"""


def table_text(state: str = "legacy", percent: float = 0, owner: str = "legacy") -> str:
    return TABLE.replace("STATE", state).replace("PERCENT", str(percent)).replace("OWNER", owner)


class Facade:
    """The façade's addons registered in a mitmproxy test master, driven hook by hook."""

    def __init__(self, tctx, routes: Path):
        self.tctx, self.routes = tctx, routes
        self.state = FacadeState()
        self.guard, self.router = Guard(self.state), Router(self.state)
        self.upstream, self.telemetry = UpstreamGuard(self.state), Telemetry(self.state)
        self.chain = (self.state, self.guard, self.router, self.upstream, self.telemetry)
        for addon in self.chain:  # like mitmdump -s: load (declares options), options set, then configure
            tctx.master.addons.register(addon)
        tctx.options.update(strangler_routes=str(routes), mode=["reverse:http://127.0.0.1:5000@8080"])
        tctx.master.addons.chain.extend(self.chain)
        for addon in self.chain:
            tctx.master.addons.invoke_addon_sync(addon, hooks.ConfigureHook(set(tctx.options.keys())))

    def trigger(self, hook) -> None:
        """Run one hook through our addons in order; exceptions propagate (mitmproxy would only log them)."""
        for addon in self.chain:
            self.tctx.master.addons.invoke_addon_sync(addon, hook)

    def write(self, text: str) -> None:
        self.routes.write_text(text)

    def flow(self, method: str = "GET", path: str = "/api/items/7", headers: dict | None = None,
             content: bytes = b"") -> tflow.HTTPFlow:
        f = tflow.tflow()
        f.request.method = method
        f.request.path = path
        f.request.host, f.request.port = "127.0.0.1", 5000
        f.request.headers.clear()
        f.request.headers["Host"] = "127.0.0.1:5000"
        f.request.content = content
        for k, v in (headers or {}).items():
            f.request.headers[k] = v
        f.response = None
        f.server_conn.timestamp_tcp_setup = None
        f.client_conn.timestamp_tls_setup = None
        return f

    def send(self, f) -> tflow.HTTPFlow:
        """Request hooks as mitmproxy fires them."""
        self.trigger(HttpRequestHeadersHook(f))
        self.trigger(HttpRequestHook(f))
        return f

    def answer(self, f, status: int = 200, headers: dict | None = None) -> tflow.HTTPFlow:
        """The upstream's response arrives (only for forwarded flows)."""
        if f.response is None:
            f.response = tflow.tresp(status_code=status)
            for k, v in (headers or {}).items():
                f.response.headers[k] = v
        self.trigger(HttpResponseHook(f))
        return f

    def fail(self, f, message: str = "[Errno 111] Connect call failed") -> tflow.HTTPFlow:
        from mitmproxy import flow as mflow

        f.error = mflow.Error(message)
        self.trigger(HttpErrorHook(f))
        return f

    def served_by(self, f) -> str:
        self.answer(f)
        return f.response.headers["X-Served-By"]


@pytest.fixture
def routes(tmp_path: Path) -> Path:
    path = tmp_path / "routes.yaml"
    path.write_text(table_text())
    return path


@pytest.fixture
def facade(routes: Path):
    with taddons.context() as tctx:
        yield Facade(tctx, routes)


__all__ = ["Facade", "hooks", "table_text", "textwrap"]
