"""Upstream health as the façade sees it: breaker accounting, per-upstream timeouts, JSON 502/504.

mitmproxy has no per-request upstream timeout, so the façade keeps the requests in flight with their
deadlines and one event-loop timer at the earliest of them; one past its upstream's `timeout_s` has its server
connection closed (the client then gets a JSON 504 instead of hanging). The timer replaced a sweep every 0.1 s:
an idle façade wakes for nothing, a busy one about once per `timeout_s` plus once per timed-out request.
Connection errors become a JSON 502. Both count as breaker failures, as do 502/503/504 answers from the
upstream (see proxy/breaker.py for why 500 does not). A connection that answered >= 500 is never reused, and a
kept-alive connection closed before any response byte is retried (idempotent) or answered 502 without counting
against the upstream (proxy/addons/keepalive.py).
"""
from __future__ import annotations

import asyncio
import logging
import math
import time

from mitmproxy import ctx, http

from proxy.addons import keepalive
from proxy.addons.errors import error_body, file_protocol_error, install
from proxy.addons.routing import META
from proxy.addons.state import FacadeState

log = logging.getLogger("strangler.facade")
_CLIENT_GONE = ("Client disconnected.", "killed", "Connection killed.")


class UpstreamGuard:
    def __init__(self, state: FacadeState):
        self.state = state
        self.in_flight: dict[str, tuple[float, http.HTTPFlow]] = {}  # flow id -> (monotonic deadline, flow)
        self._loop: asyncio.AbstractEventLoop | None = None  # set by `running`: timers need the event loop
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = math.inf  # the deadline the timer fires at (inf: no timer)
        state.on_swap(self._publish_breakers)

    def running(self) -> None:
        install()
        keepalive.install()
        self._loop = asyncio.get_running_loop()
        if self.in_flight:
            self._arm(min(deadline for deadline, _ in self.in_flight.values()))

    async def done(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._armed_at, self._loop = None, math.inf, None

    def request(self, flow: http.HTTPFlow) -> None:
        decision = flow.metadata.get(META)
        if decision is not None and decision.forwarded and flow.response is None:
            deadline = time.monotonic() + decision.timeout_s
            self.in_flight[flow.id] = (deadline, flow)
            if deadline < self._armed_at and self._loop is not None:  # usually not: same timeouts, later deadline
                self._arm(deadline)

    def response(self, flow: http.HTTPFlow) -> None:
        self.in_flight.pop(flow.id, None)
        decision = flow.metadata.get(META)
        if decision is None or not decision.forwarded or flow.response is None:
            return
        if flow.response.status_code >= 500:
            keepalive.retire(flow)  # a failing server may close it right after: never send the next request there
        snap = self.state.current
        breaker = snap.breakers.get(decision.upstream) if snap else None
        if breaker is not None:
            before = breaker.state
            breaker.record_status(flow.response.status_code)
            if breaker.state is not before:
                self._breaker_changed(decision.upstream, breaker)

    def error(self, flow: http.HTTPFlow) -> None:
        self.in_flight.pop(flow.id, None)
        decision = flow.metadata.get(META)
        if decision is None or not decision.forwarded:
            return
        message = flow.error.msg if flow.error else ""
        if decision.error_kind is None and message in _CLIENT_GONE:
            return  # the client went away: says nothing about the upstream
        if decision.error_kind == "timeout":
            status, code = 504, "upstream_timeout"
            text = f"upstream {decision.upstream!r} did not answer within {decision.timeout_s:g}s"
        elif keepalive.stale(flow):  # not retried (a write): the server closed a kept-alive connection; no breaker
            decision.error_kind, decision.forwarded = "stale", False  # (and no rollback) evidence against it
            status, code = 502, "bad_gateway"
            text = (f"upstream {decision.upstream!r} closed a kept-alive connection before answering; "
                    f"{flow.request.method} is not retried (it may not be idempotent)")
        else:  # (a refused retry too: keepalive marks it, its flow still names the first connection)
            decision.error_kind = "connect" if keepalive.connect_failed(flow) else "protocol"
            status, code = 502, "upstream_unreachable" if decision.error_kind == "connect" else "bad_gateway"
            text = f"upstream {decision.upstream!r} failed: {message}"
        self.state.metrics.upstream_errors.labels(decision.upstream, decision.error_kind).inc()
        file_protocol_error(flow.client_conn.id, status,
                            error_body(status, code, text, decision.request_id, upstream=decision.upstream),
                            {"X-Request-ID": decision.request_id, "X-Served-By": "facade",
                             "X-Strangler-Feature": decision.feature})
        if not decision.forwarded:
            return
        snap = self.state.current
        breaker = snap.breakers.get(decision.upstream) if snap else None
        if breaker is not None:
            before = breaker.state
            breaker.record_failure()
            if breaker.state is not before:
                self._breaker_changed(decision.upstream, breaker)

    # ---------------------------------------------------------------- timeouts
    def _arm(self, deadline: float) -> None:
        """(Re)schedule the one timer at `deadline` (a time.monotonic() value)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._armed_at = None, math.inf
        if self._loop is not None:
            self._timer = self._loop.call_later(max(deadline - time.monotonic(), 0.0), self._expire)
            self._armed_at = deadline

    def _expire(self) -> None:
        """The timer fired: abort every request past its deadline, then re-arm at the earliest one left (a
        request that got its answer meanwhile has left `in_flight`; with none left no timer is armed)."""
        self._timer, self._armed_at = None, math.inf
        try:
            now = time.monotonic()
            expired = [fid for fid, (deadline, _) in self.in_flight.items() if deadline <= now]
            for fid in expired:
                _, flow = self.in_flight.pop(fid)
                try:
                    self._abort(flow)
                except Exception:  # one flow's failure must not keep the others from timing out
                    log.exception("could not abort a timed-out upstream request")
        finally:
            if self.in_flight:
                self._arm(min(deadline for deadline, _ in self.in_flight.values()))

    def _abort(self, flow: http.HTTPFlow) -> None:
        decision = flow.metadata.get(META)
        if decision is None or flow.response is not None or not flow.live:
            return
        decision.error_kind = "timeout"
        flow.metadata[keepalive.RETRIED_META] = True  # the close below is ours, final: never retried
        handler = ctx.master.addons.get("proxyserver").connections.get(flow.client_conn.id)
        if handler is None:
            return
        target = (flow.request.host, flow.request.port)
        for conn, io in list(handler.transports.items()):
            if conn is handler.client or io.handler is None:
                continue
            if conn is flow.server_conn or (conn.address == target and conn.timestamp_tcp_setup is None):
                io.handler.cancel("upstream timeout")

    # ---------------------------------------------------------------- breaker metrics
    def _breaker_changed(self, upstream: str, breaker) -> None:
        self.state.metrics.set_breaker(upstream, breaker.state)
        log.warning("circuit breaker for upstream %r is now %s", upstream, breaker.state.name.lower())

    def _publish_breakers(self, snap) -> None:
        for name, breaker in snap.breakers.items():
            self.state.metrics.set_breaker(name, breaker.state)
