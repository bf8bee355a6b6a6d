"""Shadow traffic: the client is served by one side; a copy goes to the other side, and the two answers are
compared with the feature's parity rules and recorded in the parity store.

The façade only DECIDES; the shadow worker process does the work. mitmdump is one Python process on one
core, and a copy + JSON parsing + a comparison + a store write per shadowed request on its loop cost the
client as much as proxying itself (2.5x client p50 measured). So the `request` hook decides (sampling,
in-flight cap, which side, write policy) and hands the worker a compact job through a pipe
(proxy/shadow/link.py); the `response`/`error` hook hands over the served answer as mitmproxy holds it
(status, header fields, raw body — no decoding here). The worker (proxy/shadow/worker.py) starts the copy
as it reads the job: both sides see nearly the same moment, like Diffy — at once after a quiet spell, at most
`strangler_shadow_intake_ms` later under load, when the link writes several requests' jobs at once. It
compares with the shared engine (proxy/shadow/engine.py, also used by the nginx comparator) and sends back
batched events that feed the metrics and auto-rollback. The client never waits for any of it.

Bounded: per feature `parity.sample_rate` and `parity.max_in_flight`; a worker that lags or is down makes
the façade drop, never queue; everything not shadowed is counted in strangler_shadow_dropped_total{reason}.
Writes are never repeated against live state: a write is copied only to an upstream declaring
`dry_run_writes` that has PROVED it rolls them back (proxy/shadow/safety.py: probe route, acknowledgement
on every answer), signed with STRANGLER_SHADOW_KEY (strangler_app.protocol); never to any other upstream,
and never a second (noise) call for a write. A target found unsafe is ledgered here, once.
The noise sample (the first NOISE_WARMUP shadowed GET/HEAD of each route, then `parity.noise_sample_rate` of
them) asks legacy a second time; fields that differ legacy-vs-legacy are then cancelled as noise
(proxy/parity/noise.py) and proposed as ignore rules.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from mitmproxy import ctx, exceptions, http
from strangler_app.protocol import KEY_ENV

from proxy.addons.routing import META, SAFE_METHODS, Decision
from proxy.addons.snapshot import Snapshot
from proxy.addons.state import FacadeState
from proxy.cohort import cohort_key
from proxy.identity import IDENTITY_META
from proxy.parity.sampling import WARMUP, NoiseSampler
from proxy.parity.store import parity_location
from proxy.shadow.engine import Job, Verdict
from proxy.shadow.link import INTAKE_MS, MAX_INTAKE_MS, MAX_WORKERS, WorkerPool, default_workers
from proxy.shadow.metrics import shadow_metrics
from proxy.shadow.safety import ledger_unsafe
from proxy.table import Feature, RouteTable

log = logging.getLogger("strangler.facade")
NOISE_WARMUP = WARMUP  # noise samples each route always gets first (proxy/parity/sampling.py)
JOB_META = "strangler_shadow_job"
ACTOR = "shadow-worker"
VerdictListener = Callable[[Verdict], None]


class Link(Protocol):
    """What the addon needs of its worker (WorkerLink; unit tests plug in the worker core in-process)."""

    @property
    def up(self) -> bool: ...
    @property
    def pid(self) -> int | None: ...
    def send(self, message: tuple[Any, ...], *, force: bool = False) -> bool: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


LinkFactory = Callable[[Path | str, Callable[[list[Any]], None], Callable[[], list[Any]], Callable[[], None]], Link]


class Shadow:
    def __init__(self, state: FacadeState, *, link_factory: LinkFactory | None = None,
                 rng: random.Random | None = None):
        self.state = state
        self.metrics = shadow_metrics(state.metrics.registry)
        self.listeners: list[VerdictListener] = []
        self.in_flight: dict[str, int] = {}
        self.key: str = os.environ.get(KEY_ENV, "")
        self.link: Link | None = None
        self._link_factory = link_factory
        self._rng = rng or random.Random()
        self._noise = NoiseSampler(self._rng)
        self._next_id = 0
        self._warned_key = False
        self._db_path = ""
        self._workers = default_workers()
        self._intake_ms = INTAKE_MS
        self._ledger_tasks: set[asyncio.Task] = set()
        state.on_swap(self._on_swap)

    # ---------------------------------------------------------------- mitmproxy hooks
    def load(self, loader) -> None:
        loader.add_option("strangler_parity_db", str, "",
                          "SQLite parity store for shadow comparisons; empty = $STRANGLER_PARITY_STORE, else "
                          "STRANGLER_VAR_DIR/parity.db.")
        loader.add_option("strangler_shadow_workers", int, 0,
                          "Shadow worker processes that copy, compare and record (each job goes to one); 0 = one "
                          f"per CPU core. Read at start. At most {MAX_WORKERS}.")
        loader.add_option("strangler_shadow_intake_ms", int, INTAKE_MS,
                          "The façade hands each shadow worker its jobs at most every this many ms: under load "
                          "one pipe write and one wake-up of the worker carry several requests' copies, and the "
                          "cores are left to the client's path; a copy starts at most this late (at once after a "
                          f"quiet spell). 0 = every loop iteration. Read at start. At most {MAX_INTAKE_MS}.")

    def configure(self, updated: set[str]) -> None:
        if "strangler_parity_db" in updated:
            self._db_path = ctx.options.strangler_parity_db
        if "strangler_shadow_workers" in updated:
            n = ctx.options.strangler_shadow_workers
            if not 0 <= n <= MAX_WORKERS:
                raise exceptions.OptionsError(f"strangler_shadow_workers={n} is out of range. Fix: use 1-{MAX_WORKERS}"
                                              ", or 0 for one per CPU core")
            self._workers = n or default_workers()
        if "strangler_shadow_intake_ms" in updated:
            ms = ctx.options.strangler_shadow_intake_ms
            if not 0 <= ms <= MAX_INTAKE_MS:
                raise exceptions.OptionsError(f"strangler_shadow_intake_ms={ms} is out of range. Fix: use "
                                              f"0-{MAX_INTAKE_MS} (0 = each copy at once)")
            self._intake_ms = ms

    async def running(self) -> None:
        self.key = os.environ.get(KEY_ENV, "")
        if not self.key and not self._warned_key:
            self._warned_key = True
            log.warning("%s is not set: shadowed WRITES are disabled (reads are still shadowed); every write "
                        "not shadowed is counted as strangler_shadow_dropped_total{reason=\"no_shadow_key\"}. "
                        "Set the same key for the façade and the services to shadow writes as dry runs.", KEY_ENV)
        if self.link is None:
            factory = self._link_factory or partial(WorkerPool, size=self._workers, intake_ms=self._intake_ms)
            self.link = factory(self.parity_db(), self._on_events, self._hello, self._on_lost)
            await self.link.start()
            link = self.link
            self.metrics.worker_pid.set_function(lambda: link.pid or 0)

    async def done(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            await link.stop()
        if self._ledger_tasks:
            await asyncio.wait(list(self._ledger_tasks), timeout=5)

    def request(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        if decision is None or decision.shadow_to is None or not decision.forwarded or flow.response is not None:
            return
        snap = self.state.current
        feature = snap.table.features.get(decision.feature) if snap else None
        if snap is None or feature is None:
            return
        job = self._plan(flow, decision, snap.table, feature)
        if job is None:
            return
        link = self.link
        self._next_id += 1
        if link is None or not link.send(("begin", self._next_id, tuple(job))):
            self.metrics.drop(job.feature, "worker_lagging" if link is not None and link.up else "worker_down")
            return
        flow.metadata[JOB_META] = self._next_id
        n = self.in_flight.get(job.feature)
        if n is None:  # its gauge reads the count from now on
            self.metrics.watch_in_flight(job.feature, partial(self._in_flight, job.feature))
        self.in_flight[job.feature] = (n or 0) + 1

    def _in_flight(self, feature: str) -> int:
        return self.in_flight.get(feature, 0)

    def response(self, flow: http.HTTPFlow) -> None:
        job_id = flow.metadata.pop(JOB_META, None)
        if job_id is None or self.link is None:
            return
        resp = flow.response
        payload = None
        if resp is not None and resp.raw_content is not None:
            decision: Decision = flow.metadata[META]
            payload = (resp.status_code, resp.headers.fields, resp.raw_content,
                       (time.perf_counter() - decision.started) * 1000)
        self.link.send(("served", job_id, payload), force=True)  # the job is waiting for it: never dropped

    def error(self, flow: http.HTTPFlow) -> None:
        job_id = flow.metadata.pop(JOB_META, None)
        if job_id is not None and self.link is not None:
            self.link.send(("served", job_id, None), force=True)

    # ---------------------------------------------------------------- deciding
    def _plan(self, flow: http.HTTPFlow, decision: Decision, table: RouteTable, feature: Feature) -> Job | None:
        name, cfg, req = decision.feature, feature.parity, flow.request
        method = req.method.upper()
        shadow_to, served_by = decision.shadow_to, decision.upstream
        if shadow_to is None or served_by is None:  # request() only plans forwarded, shadowed requests
            return None
        copy_to = table.upstreams.get(shadow_to)
        if copy_to is None:
            return None
        safe = method in SAFE_METHODS
        if not safe and not copy_to.dry_run_writes:
            self.metrics.drop(name, "write_without_dry_run")
            return None
        if not safe and not self.key:
            self.metrics.drop(name, "no_shadow_key")
            return None
        if cfg.sample_rate < 1.0 and self._rng.random() >= cfg.sample_rate:
            self.metrics.drop(name, "sampled_out")
            return None
        if self.in_flight.get(name, 0) >= cfg.max_in_flight:
            self.metrics.drop(name, "in_flight_cap")
            return None
        body = req.raw_content
        if body is None:  # streamed request body: nothing to copy
            self.metrics.drop(name, "streamed")
            return None
        noise = safe and self._noise.wanted((name, decision.route or "-"), cfg.noise_sample_rate)
        return Job(name, decision.route or "-", method, req.path, req.headers.fields, body, shadow_to,
                   served_by, noise, decision.timeout_s,
                   cohort_key(table.cohort, req.headers, flow.client_conn.peername[0]),
                   flow.metadata.get(IDENTITY_META))  # remote identity: the copy signs its own (proxy/identity.py)

    # ---------------------------------------------------------------- the worker's side
    def _hello(self) -> list:
        snap = self.state.current
        return [("table", snap.table)] if snap is not None else []

    def _on_swap(self, snap: Snapshot) -> None:
        if self.link is not None:
            self.link.send(("table", snap.table), force=True)

    def _on_events(self, events: list) -> None:
        """Apply a batch of the worker's events (proxy/shadow/engine.py lists them; proxy/shadow/worker.py
        batch_events appends a count to all but verdicts)."""
        m = self.metrics
        for event in events:
            kind, feature = event[0], event[1]
            if kind == "verdict":
                verdict = Verdict(*event[1:])
                for listener in self.listeners:
                    try:
                        listener(verdict)
                    except Exception:
                        log.exception("shadow verdict listener failed")
            elif kind == "done":
                self.in_flight[feature] = self.in_flight.get(feature, 0) - event[2]
            elif kind == "sent":
                m.count(feature, event[2], event[3], event[4])
            elif kind == "compared":
                m.compared(feature, event[2], event[3])
            elif kind == "drop":
                m.drop(feature, event[2], event[3])
            elif kind == "unsafe":
                self._unsafe(feature, *event[2:5])

    def _unsafe(self, feature: str, upstream: str, reason: str, seconds: float) -> None:
        """The worker marked a dry-run target unsafe (once per target): say so and ledger it, off the loop."""
        snap = self.state.current
        task = asyncio.get_running_loop().create_task(asyncio.to_thread(
            ledger_unsafe, snap.table if snap else None, feature, upstream, reason, seconds, actor=ACTOR,
            ledger=self.state.store))
        self._ledger_tasks.add(task)
        task.add_done_callback(self._ledgered)

    def _ledgered(self, task: asyncio.Task) -> None:
        self._ledger_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("ledger entry for an unsafe dry-run target not written: %s", task.exception())

    def _on_lost(self) -> None:
        """The worker died: what it had in flight is lost (counted), the caps start again from zero."""
        self.metrics.worker_restarts.inc()
        for feature, n in self.in_flight.items():
            if n > 0:
                self.metrics.drop(feature, "worker_died", n)
            self.in_flight[feature] = 0  # kept: the feature's gauge reads it

    def parity_db(self) -> str | Path:
        """The store the worker records in: option, $STRANGLER_PARITY_STORE, the shared store, var/parity.db
        (a method, not a property: mitmproxy getattr()s every attribute while registering an addon)."""
        return parity_location(self._db_path or None, shared=self.state.store_url)
