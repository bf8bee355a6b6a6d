"""Recording real traffic at the façade (issue 22): per feature `record.rate` of the requests legacy serves
(and `record:` at the top of the table for the default upstream's traffic), with the legacy answer.

Never on the client's path: the `request` hook only samples; the `response` hook hands one compact tuple
(proxy/record/capture.py Captured: bodies already cut to `record.body_limit`) to the recording writer process
(proxy/record/writer.py) through the shadow worker's kind of link (proxy/shadow/link.py; here one pickle + pipe
write per BATCH_S, bounded). When the writer lags or is down the record is DROPPED and counted
(strangler_record_dropped_total{reason}), never queued without bound. Redaction happens in the writer, before
anything touches disk. Only answers legacy (the table's default upstream) served are recorded: a recording is
"what the legacy system did", the reference a candidate is replayed against.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Any

from mitmproxy import ctx, http
from prometheus_client import Counter, Gauge

from proxy.addons.routing import META, Decision
from proxy.addons.state import FacadeState
from proxy.parity.store import parity_location
from proxy.record.config import DEFAULT_FEATURE, RecordConfig
from proxy.record.shape import default_route
from proxy.shadow.link import WorkerLink

log = logging.getLogger("strangler.facade")
SAMPLED = "strangler_record"


BATCH_S = 0.05   # records are written to the writer at most this often, so one pickle + pipe write carries many
BATCH_MAX = 128  # ... or go as soon as this many are waiting


class RecordLink(WorkerLink):
    """The shadow worker's link, spawning the recording writer instead. Records are not time-critical, so every
    batch waits its window, which is wider than the shadow's: one pickle + pipe write on the façade's loop and
    one wake-up of the writer per BATCH_S instead of per request. Still bounded: a batch of BATCH_MAX records
    goes at once, and `send` refuses (the caller drops and counts) while the pipe lags."""

    MODULE = "proxy.record.writer"
    NAME = "recording writer"
    WINDOW_S = BATCH_S
    MAX_BATCH = BATCH_MAX
    HOLD_FIRST = True  # a record is never urgent: one write per BATCH_S at most, also at a low rate


class Record:
    def __init__(self, state: FacadeState, *, rng: random.Random | None = None):
        self.state = state
        self.link: WorkerLink | None = None
        self._rng = rng or random.Random()
        registry = state.metrics.registry
        self.recorded = Counter("strangler_record_total", "Exchanges handed to the recording writer", ["feature"],
                                registry=registry)
        self.dropped = Counter("strangler_record_dropped_total", "Sampled exchanges NOT recorded, by reason",
                               ["feature", "reason"], registry=registry)
        self.writer_pid = Gauge("strangler_record_writer_pid", "Process id of the recording writer (0 = down)",
                                registry=registry)
        self._children: dict[tuple[str, ...], Any] = {}
        self._running = False
        self._db_path = ""
        self._starting: asyncio.Task[None] | None = None
        state.on_swap(self._on_swap)

    def configure(self, updated: set[str]) -> None:
        if "strangler_parity_db" in updated:  # the shadow addon's option: recordings go where comparisons go
            self._db_path = ctx.options.strangler_parity_db

    def _enabled(self) -> bool:
        snap = self.state.current
        if snap is None:
            return False
        return snap.table.record is not None or any(f.record is not None for f in snap.table.features.values())

    def _on_swap(self, snap: Any) -> None:
        if self.link is not None:
            self.link.send(("table", snap.table), force=True)
        elif self._running and self._starting is None and self._enabled():  # recording just switched on
            self._starting = asyncio.get_running_loop().create_task(self._start())

    async def running(self) -> None:
        self._running = True
        if self._enabled():  # no writer process while nothing is recorded
            await self._start()

    async def _start(self) -> None:
        if self.link is None:
            db = parity_location(self._db_path or None, shared=self.state.store_url)
            self.link = RecordLink(db, lambda _events: None, self._hello, lambda: None)
            await self.link.start()
            link = self.link
            self.writer_pid.set_function(lambda: link.pid or 0)

    async def done(self) -> None:
        self._running = False
        if self._starting is not None:
            await self._starting
        link, self.link = self.link, None
        if link is not None:
            await link.stop()

    def _hello(self) -> list[tuple[str, Any]]:
        snap = self.state.current
        return [("table", snap.table)] if snap is not None else []

    # ---------------------------------------------------------------- per flow
    def request(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        snap = self.state.current
        if decision is None or snap is None or not decision.forwarded or flow.response is not None:
            return
        table = snap.table
        if decision.upstream != table.default:
            return
        feature = table.features.get(decision.feature)
        config: RecordConfig | None = feature.record if feature is not None else table.record
        if config is None or config.rate <= 0 or (config.rate < 1.0 and self._rng.random() >= config.rate):
            return
        name = decision.feature if feature is not None else DEFAULT_FEATURE
        body = flow.request.raw_content
        if body is None:  # streamed: nothing to keep
            self._drop(name, "streamed")
            return
        flow.metadata[SAMPLED] = (name, config.body_limit)

    def response(self, flow: http.HTTPFlow) -> None:
        sampled = flow.metadata.pop(SAMPLED, None)
        if sampled is None:
            return
        name, limit = sampled
        decision: Decision = flow.metadata[META]
        req, resp = flow.request, flow.response
        if resp is None or resp.raw_content is None or decision.error_kind is not None:
            self._drop(name, "no_answer")
            return
        body, answer = req.raw_content or b"", resp.raw_content
        route = decision.route if name != DEFAULT_FEATURE and decision.route else default_route(req.path)
        captured = (name, route, req.method.upper(), req.path, tuple(req.headers.fields), body[:limit], len(body),
                    resp.status_code, tuple(resp.headers.fields), answer[:limit], len(answer),
                    (time.perf_counter() - decision.started) * 1000, time.time())
        link = self.link
        if link is None or not link.send(("rec", captured)):
            self._drop(name, "writer_lagging" if link is not None and link.up else "writer_down")
            return
        self._child(self.recorded, name).inc()

    def error(self, flow: http.HTTPFlow) -> None:
        sampled = flow.metadata.pop(SAMPLED, None)
        if sampled is not None:
            self._drop(sampled[0], "no_answer")

    def _drop(self, feature: str, reason: str) -> None:
        self._child(self.dropped, feature, reason).inc()

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (metric._name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


__all__ = ["Record", "RecordLink"]
