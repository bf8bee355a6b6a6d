"""Routing: which upstream serves this request, decided from the route table snapshot and nothing else.

The Host header never chooses an upstream: the path (and method) match a feature's route, the feature's
state (and the cohort, in canary) choose legacy or target, and the request is re-addressed to that
upstream's host/port/scheme with Host rewritten. The decision is stored in `flow.metadata["strangler"]`
for the other addons (breaker accounting, telemetry, and the shadow/parity addon, which acts on
`decision.shadow_to`: set in state `shadow` — and in canary/new when the feature's
`parity.shadow_other_side` is on, naming the side that did not serve — left for that addon to send the copy).

One owner per write: a write (any method but GET/HEAD/OPTIONS) on a feature's route is served only by the
side the table names in the feature's `writes_owner` — legacy in every state but `retired` while legacy owns
them, the target in every state once the service does — because the side that did not get the write learns
it only through the data sync; a write committed on the non-owner races the owner's own writes (same ids,
lost updates). Reads follow the state. A write the state would have sent elsewhere records
`decision.fallback = "writes_owner"` (access log); X-Served-By names the side that served it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from mitmproxy import http

from proxy.addons import headers as hdr
from proxy.addons.errors import json_error
from proxy.addons.snapshot import Snapshot
from proxy.addons.state import FacadeState
from proxy.cohort import bucket, cohort_key, in_target
from proxy.table import READ_METHODS as _READS
from proxy.table import State, WritesOwner

SAFE_METHODS = frozenset({"GET", "HEAD"})
READ_METHODS = frozenset(_READS)  # every other method is a write, served by its owner
META = "strangler"


@dataclass(slots=True)
class Decision:
    request_id: str
    started: float
    feature: str = "-"
    state: str = "default"
    upstream: str = "facade"  # "facade" when the façade answered itself
    route: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    shadow_to: str | None = None  # hook point: the shadow addon sends a copy here
    fallback: str | None = None  # why the side the state chose did not serve: breaker_open | writes_owner
    forwarded: bool = False  # True once the request is addressed to an upstream
    timeout_s: float = 0.0
    error_kind: str | None = None  # connect | timeout | protocol, set by the upstream addon
    snapshot_version: int = 0
    refused_upstream: str | None = None  # the upstream whose open breaker made the façade refuse


def decision_of(flow: http.HTTPFlow) -> Decision | None:
    return flow.metadata.get(META)


class Router:
    def __init__(self, state: FacadeState):
        self.state = state

    def request(self, flow: http.HTTPFlow) -> None:
        req = flow.request
        decision = flow.metadata.get(META)
        if decision is None:
            decision = flow.metadata[META] = Decision(hdr.request_id(req.headers), time.perf_counter())
        if flow.response is not None:
            return  # already answered (guard refusal)
        snap = self.state.current
        assert snap is not None, "route table not loaded"
        decision.snapshot_version = snap.version
        table = snap.table
        upstream = table.default
        method = req.method
        match = snap.matcher.match(method, req.path)
        if match is not None:
            feature = table.features[match.feature]
            decision.feature, decision.route, decision.params = match.feature, match.route.path, match.params
            decision.state = feature.state.value
            owner = None
            if method not in READ_METHODS:
                owner = table.default if feature.writes_owner is WritesOwner.LEGACY \
                    and feature.state is not State.RETIRED else feature.target
            chosen = self._choose(flow, snap, decision, feature.state, feature.target, feature.canary_percent, owner)
            if chosen is None:
                return
            upstream = chosen
            if (feature.parity.shadow_other_side and feature.state in (State.CANARY, State.NEW)
                    and decision.fallback is None):
                decision.shadow_to = table.default if upstream == feature.target else feature.target
        elif not snap.breakers[upstream].allow():
            self._refuse_open(flow, decision, upstream)
            return
        self._forward(flow, snap, decision, upstream)

    def _choose(self, flow, snap: Snapshot, decision: Decision, state: State, target: str,
                percent: float, owner: str | None) -> str | None:
        """The upstream for this request (None: refused). `owner` is set for writes: it alone may serve them."""
        legacy = snap.table.default
        if state is State.LEGACY:
            chosen = legacy
        elif state is State.SHADOW:
            decision.shadow_to = target
            chosen = legacy
        elif state is State.CANARY:
            key = cohort_key(snap.table.cohort, flow.request.headers, flow.client_conn.peername[0])
            chosen = target if in_target(bucket(key), percent) else legacy
        else:  # new, retired
            chosen = target
        if owner is not None and chosen != owner:
            chosen, decision.fallback = owner, "writes_owner"
            if decision.shadow_to == owner:
                decision.shadow_to = None  # the owner serves it; never send it twice
        if snap.breakers[chosen].allow():
            return chosen
        if (chosen == target and state is not State.RETIRED and flow.request.method in SAFE_METHODS
                and snap.breakers[legacy].allow()):
                decision.fallback = "breaker_open"
                self.state.metrics.fallbacks.labels(decision.feature, "breaker_open").inc()
                return legacy
        self._refuse_open(flow, decision, chosen)
        return None

    def _refuse_open(self, flow: http.HTTPFlow, decision: Decision, upstream: str) -> None:
        self.state.metrics.refusals.labels("breaker_open").inc()
        decision.refused_upstream = upstream
        flow.response = json_error(
            503, "upstream_unavailable",
            f"upstream {upstream!r} is failing (circuit breaker open); retry shortly"
            + ("" if flow.request.method in SAFE_METHODS else "; writes are never redirected to another upstream"),
            decision.request_id, upstream=upstream)
        flow.response.headers["Retry-After"] = "1"

    def _forward(self, flow: http.HTTPFlow, snap: Snapshot, decision: Decision, upstream: str) -> None:
        req = flow.request
        addr = snap.addresses[upstream]
        hdr.rewrite_request(req.headers, decision.request_id, flow.client_conn.peername[0],
                            "https" if flow.client_conn.tls_established else "http", addr.host_header)
        # write the address fields directly: the `host`/`port` setters would rewrite Host each time
        data = req.data
        data.scheme, data.host, data.port = addr.scheme_b, addr.host, addr.port
        if req.is_http2 or req.is_http3:
            req.host_header = addr.host_header  # :authority
        else:
            data.authority = b""  # origin-form towards the upstream, even for absolute-form client requests
        decision.upstream = upstream
        decision.forwarded = True
        decision.timeout_s = snap.table.upstreams[upstream].timeout_s

    def response(self, flow: http.HTTPFlow) -> None:
        decision = flow.metadata.get(META)
        resp = flow.response
        if decision is None or resp is None:
            return
        hdr.rewrite_response(resp.headers, decision.request_id, decision.upstream,
                             decision.feature if decision.feature != "-" else None, decision.forwarded)
