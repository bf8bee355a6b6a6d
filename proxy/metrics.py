"""Prometheus metrics of the façade, in their own registry (no global state shared with other code/tests).

Label children are cached per label tuple: the hot path does one dict lookup and one increment instead of
prometheus_client's label validation on every request.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from proxy.breaker import BreakerState

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FacadeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("strangler_requests_total", "Requests answered by the façade",
                                ["feature", "upstream", "state", "status_class"], registry=r)
        self.latency = Histogram("strangler_request_seconds", "Time from request received to response ready",
                                 ["feature", "upstream"], buckets=_BUCKETS, registry=r)
        self.breaker_state = Gauge("strangler_breaker_state",
                                   "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open", ["upstream"],
                                   registry=r)
        self.upstream_errors = Counter("strangler_upstream_errors_total",
                                       "Upstream failures seen by the façade (connect, timeout, protocol)",
                                       ["upstream", "kind"], registry=r)
        self.fallbacks = Counter("strangler_fallbacks_total", "Requests served by legacy instead of the target",
                                 ["feature", "reason"], registry=r)
        self.refusals = Counter("strangler_refusals_total", "Requests the façade refused itself",
                                ["reason"], registry=r)
        self.reloads = Counter("strangler_table_reloads_total", "Route table loads that took effect", registry=r)
        self.reload_errors = Counter("strangler_table_reload_errors_total",
                                     "Route table edits rejected (the last good table kept serving)", registry=r)
        self.table_version = Gauge("strangler_table_version", "Version number of the table being served",
                                   registry=r)
        self._req_children: dict[tuple[str, str, str, int], Counter] = {}
        self._lat_children: dict[tuple[str, str], Histogram] = {}

    def observe(self, feature: str, upstream: str, state: str, status: int, seconds: float) -> None:
        key = (feature, upstream, state, status // 100)
        child = self._req_children.get(key)
        if child is None:
            child = self._req_children[key] = self.requests.labels(feature, upstream, state, f"{status // 100}xx")
        child.inc()
        lkey = (feature, upstream)
        lat = self._lat_children.get(lkey)
        if lat is None:
            lat = self._lat_children[lkey] = self.latency.labels(feature, upstream)
        lat.observe(seconds)

    def set_breaker(self, upstream: str, state: BreakerState) -> None:
        self.breaker_state.labels(upstream).set(int(state))

    def render(self) -> bytes:
        return generate_latest(self.registry)
