"""The façade's history writer: every 10 s, the difference of the counters it already keeps becomes one bucket
per feature and side (proxy/history).

Why this shape: nothing is added to the client path. The routing counters and latency histogram
(proxy/metrics.py), the shadow counters (proxy/shadow/metrics.py) and Telemetry's no-answer count are read
cumulatively, and the change since the last tick is what the interval did. The reading, the arithmetic and
the database write run in a thread (`asyncio.to_thread`), so the event loop only sleeps and schedules; a slow
or broken store delays history, never a request (an error is logged once per message and retried next tick).
Turn it off with `--set strangler_history=false` (the benchmark measures its cost that way).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from typing import Any

from mitmproxy import ctx

from proxy.common.background import Background
from proxy.dashboard.window import read_metrics
from proxy.history import INTERVAL_S, MAX_SERIES, Bucket, HistoryStore, history_location, open_history
from proxy.shadow.metrics import shadow_metrics

log = logging.getLogger("strangler.facade")
Totals = dict[tuple[str, str], tuple[float, ...]]  # (feature, side) -> cumulative counts


_opened: dict[str, HistoryStore] = {}


def facade_history(state: Any) -> HistoryStore:
    """The store this façade writes and its dashboard reads (the parity store's choice, see history_location),
    resolved on each call so a store option changed while running is followed; one open store per location."""
    explicit = ""
    with contextlib.suppress(Exception):  # no master (unit tests, other hosts): the option does not exist
        explicit = str(getattr(ctx.options, "strangler_parity_db", "") or "")
    where = history_location(explicit or None, shared=state.store_url)
    store = _opened.get(str(where))
    if store is None:
        store = _opened[str(where)] = open_history(where)
    return store


def canary_share(state: str, percent: float) -> float:
    """The share of the feature's requests the table sends to the target, %."""
    return {"canary": float(percent), "new": 100.0, "retired": 100.0}.get(state, 0.0)


class HistoryRecorder:
    """A façade part (proxy/facade.py): `no_answer` is Telemetry's count of requests that got no answer."""

    def __init__(self, state: Any, no_answer: dict[tuple[str, str, int], int] | None = None):
        self.state, self.no_answer = state, no_answer if no_answer is not None else {}
        self.enabled = True
        self.dropped = 0
        self.store: HistoryStore | None = None  # None: the façade's (facade_history), looked up at each tick
        self._last: Totals = {}
        self._last_error = ""
        self._task = Background("strangler history", self._loop)
        self._ticking = threading.Lock()

    def load(self, loader: Any) -> None:
        loader.add_option("strangler_history", bool, True,
                          "Write per-feature time series every 10 s for the dashboard (proxy/history).")

    def configure(self, updated: set[str]) -> None:
        if "strangler_history" in updated:
            self.enabled = bool(ctx.options.strangler_history)

    def running(self) -> None:
        if self.enabled:
            self._last = self.totals()  # counters start at zero, but a re-run must not count the past again
            self._task.start()

    async def done(self) -> None:
        if self._task.task is None:
            return
        self._task.stop()
        await asyncio.to_thread(self.tick, int(time.time()))  # the last partial interval survives a restart

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL_S - time.time() % INTERVAL_S + 0.05)
            ended = int(time.time()) // INTERVAL_S * INTERVAL_S - INTERVAL_S
            await asyncio.to_thread(self.tick, ended)

    # ------------------------------------------------------------------------------------ in a thread
    def tick(self, ts: int) -> int:
        """Write what happened since the last tick into the bucket starting at `ts`; the buckets written.
        One at a time: the tick `done` writes may start while a cancelled loop's tick still runs in its thread."""
        with self._ticking:
            return self._tick(ts)

    def _tick(self, ts: int) -> int:
        try:
            now = self.totals()
            buckets = self.buckets(ts - ts % INTERVAL_S, now)
            store = self.store if self.store is not None else facade_history(self.state)
            store.write(buckets)
            self._last = now
            if ts // INTERVAL_S % 60 == 0:  # every 10 minutes
                store.prune(time.time())
            self._last_error = ""
            return len(buckets)
        except Exception as exc:  # noqa: BLE001 - history must never take the façade down
            message = f"{type(exc).__name__}: {exc}"
            if message != self._last_error:
                log.error("history not written (retried every %d s): %s", INTERVAL_S, message)
                self._last_error = message
            return 0

    def totals(self) -> Totals:
        """Cumulative counts per (feature, side): requests, 4xx, 5xx, no answer, histogram, shadow figures."""
        snap = self.state.current
        if snap is None:
            return {}
        table = snap.table
        out: dict[tuple[str, str], list[float]] = {}

        def side_of(feature: str, upstream: str) -> str:
            feat = table.features.get(feature)
            return "target" if feat is not None and upstream == feat.target else "legacy"

        _, readings = read_metrics(self.state.metrics)
        for (feature, upstream), r in readings.items():
            acc = out.setdefault((feature, side_of(feature, upstream)), [0.0] * 8 + [0.0] * len(r.buckets))
            acc[0] += r.requests
            acc[2] += r.errors
            for i, n in enumerate(r.buckets):
                acc[8 + i] += n
        for metric in self.state.metrics.requests.collect():
            for s in metric.samples:
                key = (s.labels["feature"], side_of(s.labels["feature"], s.labels["upstream"]))
                if s.name.endswith("_total") and s.labels["status_class"] == "4xx" and key in out:
                    out[key][1] += s.value
        for (feature, upstream, status), n in list(self.no_answer.items()):
            counted = out.get((feature, side_of(feature, upstream)))
            if counted is not None:  # counted in its status class too: move it to "no answer"
                counted[3] += n
                counted[1 if status // 100 == 4 else 2] -= n
        shadow = shadow_metrics(self.state.metrics.registry)
        for metric in shadow.sent.collect():
            for s in metric.samples:
                if s.name.endswith("_total") and s.labels["kind"] == "copy":
                    acc = out.setdefault((s.labels["feature"], "shadow"), [0.0] * 8)
                    acc[6] += s.value
                    acc[7] += s.value if s.labels["outcome"] != "ok" else 0
        for metric in shadow.comparisons.collect():
            for s in metric.samples:
                if s.name.endswith("_total") and s.labels["result"] in ("match", "diff"):
                    acc = out.setdefault((s.labels["feature"], "shadow"), [0.0] * 8)
                    acc[4] += s.value
                    acc[5] += s.value if s.labels["result"] == "match" else 0
        return {key: tuple(v) for key, v in out.items()}

    def buckets(self, ts: int, now: Totals) -> list[Bucket]:
        snap = self.state.current
        table = snap.table if snap is not None else None
        out: list[Bucket] = []
        keys = set(now)
        if table is not None:  # every feature of the table, traffic or not: a gap means "no façade wrote"
            keys |= {(name, side) for name in table.features for side in ("legacy", "target")}
        for feature, side in sorted(keys):
            if len(out) >= MAX_SERIES:
                self.dropped += 1
                continue
            cur, old = now.get((feature, side), ()), self._last.get((feature, side), ())
            d = [round(c - (old[i] if i < len(old) else 0.0)) for i, c in enumerate(cur)]
            d = [max(x, 0) for x in d] + [0] * (8 - len(d))
            feat = table.features.get(feature) if table is not None else None
            canary = canary_share(feat.state.value, feat.canary_percent) if feat is not None else None
            out.append(Bucket(feature, side, ts, requests=d[0], e4xx=d[1], e5xx=d[2], enone=d[3], hist=tuple(d[8:]),
                              compared=d[4], equal=d[5], copies=d[6], copy_errors=d[7],
                              canary=canary if side != "shadow" else None))
        return out
