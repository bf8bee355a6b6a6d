"""Shadow traffic: the client is served by one side; a copy goes to the other side, and the two answers are
compared with the feature's parity rules and recorded in the parity store.

Never on the client's path: the `request` hook only decides and fires a task (kept in a set so it is not
garbage-collected); the served answer is handed to that task from the `response`/`error` hook through a
future. Copies start as soon as the request is routed (like Diffy, both sides see the same moment).
Bounded: per feature `parity.sample_rate` and `parity.max_in_flight`; whatever is not shadowed is counted
in strangler_shadow_dropped_total{reason}, never queued.

Writes are never repeated against live state: a write is copied only to an upstream declaring
`dry_run_writes`, signed with STRANGLER_SHADOW_KEY (proxy/signing.py) so that service runs it in a
rolled-back transaction; never to any other upstream, and never a second (noise) call for a write.
The noise sample (`parity.noise_sample_rate` of shadowed GET/HEAD) asks legacy a second time; fields that
differ legacy-vs-legacy are then cancelled as noise (proxy/parity/noise.py) and proposed as ignore rules.
"""
from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from mitmproxy import ctx, http

from proxy import signing
from proxy.addons.routing import META, SAFE_METHODS, Decision
from proxy.addons.state import FacadeState
from proxy.parity import (
    ComparisonResult,
    Difference,
    NoiseTracker,
    ParityStore,
    RequestInfo,
    Response,
    compare_exchange,
    default_store_path,
    normaliser_for,
)
from proxy.shadow.clients import Outcome, UpstreamClients, copy_headers
from proxy.shadow.metrics import shadow_metrics
from proxy.table import Feature, RouteTable

log = logging.getLogger("strangler.facade")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per shadow copy would flood the log
KEY_ENV = "STRANGLER_SHADOW_KEY"
_STORED_HEADER_DROP = frozenset({"authorization", "cookie", "proxy-authorization", signing.HEADER.lower()})
_SERVED_GRACE_S = 5.0  # how long past the served side's own timeout a copy waits for the served answer

# (result, real differences, the copy went to the feature's target) -> None
ResultListener = Callable[[ComparisonResult, list[Difference], bool], None]


@dataclass(frozen=True, slots=True)
class _Plan:
    feature: str
    route: str
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes
    served_by: str
    copy_to: str
    reference_is_served: bool  # legacy served (shadow, canary legacy cohort) -> the copy is the candidate
    noise: bool
    served_timeout_s: float


class Shadow:
    def __init__(self, state: FacadeState, *, transport: httpx.AsyncBaseTransport | None = None,
                 store: ParityStore | None = None, rng: random.Random | None = None):
        self.state = state
        self.metrics = shadow_metrics(state.metrics.registry)
        self.clients = UpstreamClients(transport)
        self.noise = NoiseTracker()
        self.listeners: list[ResultListener] = []
        self.tasks: set[asyncio.Task] = set()
        self.in_flight: dict[str, int] = {}
        self.key: str = os.environ.get(KEY_ENV, "")
        self._store = store
        self._rng = rng or random.Random()
        self._served: dict[str, asyncio.Future] = {}
        self._warned_key = False
        self._db_path = ""

    # ---------------------------------------------------------------- mitmproxy hooks
    def load(self, loader) -> None:
        loader.add_option("strangler_parity_db", str, "",
                          "SQLite parity store for shadow comparisons; empty = $STRANGLER_PARITY_STORE, else "
                          "STRANGLER_VAR_DIR/parity.db.")

    def configure(self, updated: set[str]) -> None:
        if "strangler_parity_db" in updated:
            self._db_path = ctx.options.strangler_parity_db

    def running(self) -> None:
        self.key = os.environ.get(KEY_ENV, "")
        if not self.key and not self._warned_key:
            self._warned_key = True
            log.warning("%s is not set: shadowed WRITES are disabled (reads are still shadowed); every write "
                        "not shadowed is counted as strangler_shadow_dropped_total{reason=\"no_shadow_key\"}. "
                        "Set the same key for the façade and the services to shadow writes as dry runs.", KEY_ENV)

    async def done(self) -> None:
        tasks = list(self.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.clients.aclose()
        if self._store is not None:
            await asyncio.to_thread(self._store.close)

    def request(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        if decision is None or decision.shadow_to is None or not decision.forwarded or flow.response is not None:
            return
        snap = self.state.current
        feature = snap.table.features.get(decision.feature) if snap else None
        if feature is None:
            return
        plan = self._plan(flow, decision, snap.table, feature)
        if plan is None:
            return
        self.in_flight[plan.feature] = self.in_flight.get(plan.feature, 0) + 1
        self.metrics.in_flight.labels(plan.feature).inc()
        served = asyncio.get_running_loop().create_future()
        self._served[flow.id] = served
        task = asyncio.get_running_loop().create_task(self._exchange(plan, snap.table, served, flow.id),
                                                      name=f"strangler shadow {flow.id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def response(self, flow: http.HTTPFlow) -> None:
        served = self._served.pop(flow.id, None)
        if served is None or served.done():
            return
        resp = flow.response
        body = resp.get_content(strict=False) if resp is not None else None
        if resp is None or body is None:
            served.set_result(None)
            return
        decision: Decision = flow.metadata[META]
        served.set_result((Response.of(resp.status_code, resp.headers.items(multi=True), body),
                           (time.perf_counter() - decision.started) * 1000))

    def error(self, flow: http.HTTPFlow) -> None:
        served = self._served.pop(flow.id, None)
        if served is not None and not served.done():
            served.set_result(None)

    # ---------------------------------------------------------------- deciding
    def _plan(self, flow: http.HTTPFlow, decision: Decision, table: RouteTable, feature: Feature) -> _Plan | None:
        name, cfg, req = decision.feature, feature.parity, flow.request
        method = req.method.upper()
        copy_to = table.upstreams.get(decision.shadow_to)
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
        headers = copy_headers(req.headers.items(multi=True), frozenset({signing.HEADER.lower()}))
        noise = safe and cfg.noise_sample_rate > 0 and self._rng.random() < cfg.noise_sample_rate
        return _Plan(name, decision.route or "-", method, req.path, headers, body, decision.upstream,
                     decision.shadow_to, decision.upstream == table.default, noise, decision.timeout_s)

    # ---------------------------------------------------------------- the exchange (a task, off the hot path)
    async def _exchange(self, plan: _Plan, table: RouteTable, served: asyncio.Future, flow_id: str) -> None:
        try:
            copy_up = table.upstreams[plan.copy_to]
            request = self.clients.build(copy_up, plan.method, plan.path, list(plan.headers), plan.body)
            if plan.method not in SAFE_METHODS:
                request.headers[signing.HEADER] = signing.sign(self.key, plan.method, request.url.raw_path.decode(
                    "ascii"), plan.body)
            jobs = [self.clients.send(copy_up, request)]
            if plan.noise:
                legacy = table.upstreams[table.default]
                jobs.append(self.clients.send(legacy, self.clients.build(legacy, plan.method, plan.path,
                                                                         list(plan.headers), plan.body)))
            outcomes = await asyncio.gather(*jobs)
            try:
                got = await asyncio.wait_for(served, plan.served_timeout_s + _SERVED_GRACE_S)
            except TimeoutError:
                got = None
            self._compare(plan, table, outcomes[0], outcomes[1] if plan.noise else None, got)
        except asyncio.CancelledError:
            raise
        except Exception:  # a shadow bug must never reach the client or kill the façade
            log.exception("shadow exchange failed for %s %s", plan.method, plan.path)
            self.metrics.drop(plan.feature, "internal_error")
        finally:
            self._served.pop(flow_id, None)
            self.in_flight[plan.feature] -= 1
            self.metrics.in_flight.labels(plan.feature).dec()

    def _compare(self, plan: _Plan, table: RouteTable, copy: Outcome, noise: Outcome | None,
                 served: tuple[Response, float] | None) -> None:
        self.metrics.count(plan.feature, "copy", copy.error_kind or "ok")
        if noise is not None:
            self.metrics.count(plan.feature, "noise", noise.error_kind or "ok")
        if served is None:
            self.metrics.drop(plan.feature, "served_side_failed")
            return
        served_resp, served_ms = served
        if plan.reference_is_served:
            reference, ref_url = served_resp, table.upstreams[plan.served_by].url
            candidate, error, latency = copy.response, copy.error, copy.latency_ms
            cand_url = table.upstreams[plan.copy_to].url
        else:
            if copy.response is None:
                self.metrics.drop(plan.feature, "reference_copy_failed")
                return
            reference, ref_url = copy.response, table.upstreams[plan.copy_to].url
            candidate, error, latency = served_resp, None, served_ms
            cand_url = table.upstreams[plan.served_by].url
        stored_headers = [(k, v) for k, v in plan.headers if k.lower() not in _STORED_HEADER_DROP]
        result = compare_exchange(
            normaliser_for(table.features[plan.feature].parity if plan.feature in table.features else None),
            feature=plan.feature, route=plan.route,
            request=RequestInfo.of(plan.method, plan.path, stored_headers, plan.body),
            reference=reference, candidate=candidate,
            reference_again=noise.response if noise is not None else None,
            error=error, latency_ms=latency, reference_url=ref_url, candidate_url=cand_url)
        self.noise.observe(result)
        real = [] if result.is_error else self.noise.real_differences(result)
        self.metrics.compared(plan.feature, "error" if result.is_error else ("diff" if real else "match"))
        self.parity_store().record(result)
        copy_is_target = plan.reference_is_served  # legacy served, so the copy went to the target
        for listener in self.listeners:
            try:
                listener(result, real, copy_is_target)
            except Exception:
                log.exception("shadow result listener failed")

    def parity_store(self) -> ParityStore:
        """Opened on first use (a method, not a property: mitmproxy getattr()s every attribute while
        registering an addon, which would open the store before the options are known)."""
        if self._store is None:
            raw = self._db_path or os.environ.get("STRANGLER_PARITY_STORE", "")  # the same variable as `strangler parity`
            self._store = ParityStore(Path(raw) if raw else default_store_path())
        return self._store
