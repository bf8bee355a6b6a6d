"""Prometheus metrics of shadowing and auto-rollback, registered in the façade's own registry (so the admin
API's /metrics shows them next to the routing metrics). Label children are cached like proxy/metrics.py."""
from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class ShadowMetrics:
    def __init__(self, registry: CollectorRegistry):
        r = registry
        self.sent = Counter("strangler_shadow_requests_total", "Shadow copies and noise samples sent",
                            ["feature", "kind", "outcome"], registry=r)
        self.dropped = Counter("strangler_shadow_dropped_total",
                               "Requests NOT shadowed or not compared, by reason", ["feature", "reason"], registry=r)
        self.in_flight = Gauge("strangler_shadow_in_flight", "Shadow exchanges in flight", ["feature"], registry=r)
        self.comparisons = Counter("strangler_shadow_comparisons_total",
                                   "Compared exchanges: match, diff (real, noise excluded) or error",
                                   ["feature", "result"], registry=r)
        self.rollbacks = Counter("strangler_rollbacks_total", "Automatic rollbacks done, by limit crossed",
                                 ["feature", "limit"], registry=r)
        self.rollback_failures = Counter("strangler_rollback_failures_total",
                                         "Automatic rollbacks decided but not written (see the façade log)",
                                         ["feature"], registry=r)
        self.window = Gauge("strangler_rollback_window", "Current rollback window figures per feature",
                            ["feature", "figure"], registry=r)
        self.worker_pid = Gauge("strangler_shadow_worker_pid",
                                "Process id of the shadow worker doing copies and comparisons (0 = down)", registry=r)
        self.worker_restarts = Counter("strangler_shadow_worker_restarts_total",
                                       "Times the shadow worker died and was restarted", registry=r)
        self._children: dict[tuple, object] = {}

    def drop(self, feature: str, reason: str, n: int = 1) -> None:
        self._child(self.dropped, feature, reason).inc(n)

    def watch_in_flight(self, feature: str, read: Callable[[], float]) -> None:
        """The feature's in-flight gauge reads `read()` when scraped: the count the façade keeps anyway, not a
        locked increment per shadowed request on the client's path."""
        self._child(self.in_flight, feature).set_function(read)

    def count(self, feature: str, kind: str, outcome: str, n: int = 1) -> None:
        self._child(self.sent, feature, kind, outcome).inc(n)

    def compared(self, feature: str, result: str, n: int = 1) -> None:
        self._child(self.comparisons, feature, result).inc(n)

    def _child(self, metric, *labels: str):
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


def shadow_metrics(registry: CollectorRegistry) -> ShadowMetrics:
    """One ShadowMetrics per registry (the shadow and rollback addons share it; registering twice would fail)."""
    metrics = getattr(registry, "_strangler_shadow_metrics", None)
    if metrics is None:
        metrics = ShadowMetrics(registry)
        registry._strangler_shadow_metrics = metrics  # type: ignore[attr-defined]
    return metrics
