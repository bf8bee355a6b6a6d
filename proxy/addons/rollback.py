"""Automatic rollback: a feature in canary/new whose target side misbehaves is flipped back ONE state
(new -> canary -> shadow) by the façade itself, with the evidence in the ledger.

What is counted, per feature, in a window of the last `rollback.min_samples` (proxy/shadow/window.py):
- target outcomes: each request the target served (error = 5xx, connect error, timeout; latency), each
  shadow copy sent to the target, and each safe request the target's open breaker pushed back to legacy
  or that the façade refused because of it (an error without a latency);
- comparisons with legacy, when `parity.shadow_other_side` makes the façade compare in canary/new: a real
  difference (noise excluded), a status-class change (200 → 403 counts; legacy's own 5xx does not).
Regressions, not noise: a target-served request that is being compared is counted when its comparison
arrives, so an error legacy also returned is not a regression (an uncompared error counts: legacy's answer
is unknown); one whose comparison never arrives (legacy's copy failed, the shadow worker dropped or lost the
job) is counted uncompared after twice legacy's timeout, so a target 5xx is never left out of the window.
A limit acts only when `rollback.min_clients` distinct cohort keys are behind it.
Hooks do O(1) bookkeeping only (a comparison settling its pending outcome scans the copies in flight); a
background task judges the windows that changed, at most once every EVAL_SECONDS: a hook that records an
outcome wakes it, and so does the earliest deadline it waits for (a pending outcome's, a failed flip's retry),
so an idle façade, or one without a watched feature, never wakes for it. A flip runs in a thread (file lock,
atomic write, fsync'd ledger) with its task kept, then the façade reloads. Windows restart whenever the
feature's state, percent or limits change, so a rollback is judged on fresh evidence in its new state.

Gates: a rollback passes NO data gates (footprint, ownership): those guard moving traffic towards a
service; refusing a move back towards legacy would keep a failing service serving. The only gate is an
"expected state" check run under the flip's file lock, so a rollback never undoes a newer operator flip.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque

from mitmproxy import ctx, http

from proxy.addons.routing import META, SAFE_METHODS, Decision
from proxy.addons.shadow import JOB_META, Shadow
from proxy.addons.snapshot import Snapshot
from proxy.addons.state import FacadeState
from proxy.cohort import cohort_key
from proxy.common.background import Background
from proxy.flips import FlipError, Gate, flip_feature
from proxy.shadow.engine import Verdict
from proxy.shadow.metrics import shadow_metrics
from proxy.shadow.window import Breach, Window, evaluate, has_limits, is_status_change, step_back
from proxy.table import Feature, RouteTable, State

log = logging.getLogger("strangler.facade")
EVAL_SECONDS = 0.25
RETRY_SECONDS = 5.0
ACTOR = "auto-rollback"
WATCHED = (State.CANARY, State.NEW)
COMPARED = "strangler.rollback.compared"  # flow metadata: its outcome arrives with its comparison
COMPARISON_LIMITS = ("max_status_change_rate", "max_diff_rate")  # judged on comparisons with legacy only
PENDING_SLACK_S = 5.0  # beyond twice legacy's timeout: a compared outcome's comparison is not coming
PENDING_MAX = 4096     # per feature; the oldest beyond it counts uncompared at once


class Rollback:
    def __init__(self, state: FacadeState, shadow: Shadow | None = None):
        self.state = state
        self.metrics = shadow_metrics(state.metrics.registry)
        self.windows: dict[str, Window] = {}
        self._keys: dict[str, tuple] = {}
        self.flips: dict[str, asyncio.Task] = {}  # feature -> flip in progress (one at a time per feature)
        self.history: list[dict] = []  # rollbacks done by this process (for logs/tests)
        self._retry_after: dict[str, float] = {}  # feature -> monotonic time; backs off after a failed flip
        self._blind_warned: set[tuple] = set()  # (feature, limits) already warned about by _warn_blind
        # feature -> target-served outcomes waiting for their comparison: [deadline, client, error, latency]
        self._pending: dict[str, deque[tuple[float, str, bool, float]]] = {}
        self._loop_task = Background("strangler auto-rollback", self._loop)
        self._wake: asyncio.Event | None = None  # set by a hook that gave the judge something new (see _loop)
        state.on_swap(self._on_swap)
        if state.current is not None:
            self._on_swap(state.current)
        if shadow is not None:
            shadow.listeners.append(self.observe_comparison)

    # ---------------------------------------------------------------- mitmproxy hooks
    def load(self, loader) -> None:
        loader.add_option("strangler_auto_rollback", bool, True,
                          "Flip a feature back one state when it crosses its rollback limits.")

    def configure(self, updated: set[str]) -> None:
        if "strangler_auto_rollback" in updated:
            self._changed()  # switched back on: judge what changed meanwhile

    def running(self) -> None:
        if self._loop_task.task is None:
            self._wake = asyncio.Event()
            self._wake.set()  # a first look, as the periodic loop had
        self._loop_task.start()

    async def done(self) -> None:
        self._loop_task.stop()
        pending = [t for t in self.flips.values() if not t.done()]
        if pending:  # a flip thread cannot be cancelled; let it finish so the file and ledger stay whole
            await asyncio.wait(pending, timeout=10)

    def request(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        if decision is None:
            return
        watched = self._watched(decision)
        if watched is None:
            return
        window, feature = watched
        if flow.response is not None and decision.refused_upstream == feature.target:
            window.outcome(True, None, self._client(flow))
            self._changed()
        elif JOB_META in flow.metadata and decision.upstream == feature.target:
            flow.metadata[COMPARED] = True  # the shadow addon (before us) sent legacy a copy to compare

    def response(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        if decision is None or flow.response is None:
            return
        watched = self._watched(decision)
        if watched is None:
            return
        window, feature = watched
        if decision.forwarded and decision.upstream == feature.target:
            error, latency = flow.response.status_code >= 500, (time.perf_counter() - decision.started) * 1000
            if not flow.metadata.get(COMPARED):
                window.outcome(error, latency, self._client(flow))
            else:  # counted when its comparison arrives, or as an uncompared outcome if it never does
                snap = self.state.current
                wait = 2 * snap.table.upstreams[snap.table.default].timeout_s if snap else 20.0
                pending = self._pending.setdefault(decision.feature, deque())
                if len(pending) >= PENDING_MAX:
                    _, old_client, old_error, old_latency = pending.popleft()
                    window.outcome(old_error, old_latency, old_client)
                pending.append((time.monotonic() + wait + PENDING_SLACK_S, self._client(flow), error, latency))
        elif decision.fallback is not None and flow.request.method in SAFE_METHODS:
            window.outcome(True, None, self._client(flow))  # the target's breaker is open: it could not serve
        else:
            return
        self._changed()  # an outcome, or a pending one whose deadline the judge must wait for

    def error(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        if decision is None or decision.error_kind is None or not decision.forwarded:
            return  # no error kind: the client went away, which says nothing about the target
        watched = self._watched(decision)
        if watched is not None and decision.upstream == watched[1].target:  # no answer: never compared
            watched[0].outcome(True, (time.perf_counter() - decision.started) * 1000, self._client(flow))
            self._changed()

    def observe_comparison(self, verdict: Verdict) -> None:
        """A comparison reported by the shadow worker (through the shadow addon's event batches); legacy is
        its reference, the target its candidate, whichever side served the client."""
        window = self.windows.get(verdict.feature)
        if window is None:
            return
        failed = verdict.is_error or (verdict.target_status is not None and verdict.target_status >= 500)
        if not verdict.copy_is_target and not self._settle(verdict.feature, verdict.client, failed):
            return  # its outcome was already counted uncompared (or belongs to a window since restarted)
        window.outcome(failed, verdict.latency_ms, verdict.client, regression=verdict.is_error)
        if not verdict.is_error:
            window.parity(verdict.differs, verdict.client,
                          status_change=is_status_change(verdict.cause, verdict.legacy_status))
        self._changed()

    def _settle(self, feature: str, client: str, error: bool) -> bool:
        """Take the pending outcome a comparison of a target-served request settles (the oldest of its client
        with the same error flag, else the oldest); False when none is pending. The scan is bounded by the
        comparisons in flight (parity.max_in_flight)."""
        pending = self._pending.get(feature)
        if not pending:
            return False
        for i, entry in enumerate(pending):
            if entry[1] == client and entry[2] == error:
                del pending[i]
                return True
        pending.popleft()
        return True

    def _expire(self, now: float) -> None:
        """Outcomes whose comparison never came (legacy's copy failed, the worker dropped or lost the job) count
        as uncompared: a target 5xx is then an error legacy's answer cannot excuse."""
        for feature, pending in self._pending.items():
            window = self.windows.get(feature)
            while pending and pending[0][0] <= now:
                _, client, error, latency = pending.popleft()
                if window is not None:
                    window.outcome(error, latency, client)

    def _client(self, flow: http.HTTPFlow) -> str:
        snap = self.state.current
        return cohort_key(snap.table.cohort, flow.request.headers, flow.client_conn.peername[0]) if snap else ""

    # ---------------------------------------------------------------- windows
    def _watched(self, decision: Decision) -> tuple[Window, Feature] | None:
        window = self.windows.get(decision.feature)
        if window is None:
            return None
        snap = self.state.current
        feature = snap.table.features.get(decision.feature) if snap else None
        return (window, feature) if feature is not None else None

    def _on_swap(self, snap: Snapshot) -> None:
        """Keep a window per feature in canary/new with limits; restart it when state/percent/limits change."""
        keys: dict[str, tuple] = {}
        for name, feature in snap.table.features.items():
            if feature.state in WATCHED and has_limits(feature.rollback):
                keys[name] = (feature.state, feature.canary_percent, feature.rollback)
        for name in list(self.windows):
            if keys.get(name) != self._keys.get(name):
                del self.windows[name]
                self._pending.pop(name, None)
        for name, key in keys.items():
            if name not in self.windows:
                self.windows[name] = Window(key[2].min_samples)
            self._warn_blind(name, snap.table.features[name])
        self._keys = keys

    def _warn_blind(self, name: str, feature: Feature) -> None:
        """A limit judged on comparisons with legacy (status changes, parity differences) can never act in
        canary/new without `parity.shadow_other_side`: nothing is compared there, so a logged-in 403 outage
        would roll nothing back. Said once per feature and limits, when the table is loaded."""
        blind = [limit for limit in COMPARISON_LIMITS if getattr(feature.rollback, limit) is not None]
        if feature.parity.shadow_other_side or not blind or (name, feature.rollback) in self._blind_warned:
            return
        self._blind_warned.add((name, feature.rollback))
        log.warning("feature %r (%s): rollback.%s cannot act: without parity.shadow_other_side nothing is compared "
                    "with legacy in canary/new. Fix: set features.%s.parity.shadow_other_side: true",
                    name, feature.state.value, " and rollback.".join(blind), name)

    # ---------------------------------------------------------------- judging (off the hot path)
    def _changed(self) -> None:
        """Something for the judge: it runs within EVAL_SECONDS (at once when it has been idle that long)."""
        if self._wake is not None:
            self._wake.set()

    def _next_deadline(self) -> float | None:
        """Seconds until the judge has something to do without a new outcome (None: nothing): the oldest
        pending outcome's deadline, a failed flip's retry time for a window that changed."""
        if not getattr(ctx.options, "strangler_auto_rollback", True):
            return None  # nothing is judged; `configure` wakes the judge when it is switched back on
        deadlines = [pending[0][0] for pending in self._pending.values() if pending]
        deadlines += [self._retry_after[name] for name, window in self.windows.items()
                      if window.dirty and name in self._retry_after and name not in self.flips]
        return max(min(deadlines) - time.monotonic(), 0.0) if deadlines else None

    async def _loop(self) -> None:
        """Judge when woken (a hook's new outcome, a flip's end, the option switched on) or at the next deadline
        (_next_deadline), then rest EVAL_SECONDS: at most one judgement per EVAL_SECONDS, as the periodic loop
        this replaced made, without waking an idle façade every EVAL_SECONDS."""
        wake = self._wake
        assert wake is not None  # created by `running` with this task
        while True:
            try:
                timeout = self._next_deadline()
            except Exception:  # never let the judge die (it then looks again after EVAL_SECONDS)
                log.exception("auto-rollback scheduling failed")
                timeout = EVAL_SECONDS
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
            wake.clear()
            try:
                self.evaluate_now()
            except Exception:  # never let the judge die
                log.exception("auto-rollback evaluation failed")
            await asyncio.sleep(EVAL_SECONDS)

    def evaluate_now(self) -> list[str]:
        """Judge every changed window; start a flip for each breach. Returns the features being rolled back."""
        snap = self.state.current
        if snap is None or not getattr(ctx.options, "strangler_auto_rollback", True):
            return []
        self._expire(time.monotonic())
        started = []
        for name, window in list(self.windows.items()):
            if not window.dirty or name in self.flips or self._retry_after.get(name, 0) > time.monotonic():
                continue
            window.dirty = False
            feature = snap.table.features.get(name)
            if feature is None or feature.state not in WATCHED:
                continue
            breach, evidence = evaluate(feature.rollback, window)
            for figure in ("samples", "errors", "regressions", "error_rate", "diff_rate", "status_change_rate",
                           "p95_ms"):
                if evidence[figure] is not None:
                    self.metrics.window.labels(name, figure).set(evidence[figure])
            if breach is not None:
                self._start_flip(name, feature, breach, evidence)
                started.append(name)
        return started

    def _start_flip(self, name: str, feature: Feature, breach: Breach, evidence: dict) -> None:
        back = step_back(feature.state, feature.canary_percent)
        if back is None or self.state.routes_path is None:
            return
        to, percent = back
        evidence = {**evidence, "limit": breach.limit, "value": round(breach.value, 4),
                    "threshold": breach.threshold, "from_state": feature.state.value}
        log.warning("AUTO-ROLLBACK of feature %r: %s; flipping %s -> %s", name, breach.reason(),
                    feature.state.value, to.value)
        task = asyncio.get_running_loop().create_task(
            asyncio.to_thread(flip_feature, self.state.routes_path, name, to, percent=percent, actor=ACTOR,
                              reason=breach.reason(), evidence=evidence, gates=(_expect(feature.state),),
                              read_figures=False),
            name=f"strangler auto-rollback {name}")
        self.flips[name] = task
        task.add_done_callback(lambda t: self._flipped(name, breach, t))

    def _flipped(self, name: str, breach: Breach, task: asyncio.Task) -> None:
        self.flips.pop(name, None)
        self._changed()  # its window waited for the flip to end (and may now wait for a retry)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.metrics.rollback_failures.labels(name).inc()
            self._retry_after[name] = time.monotonic() + RETRY_SECONDS
            level = logging.WARNING if isinstance(exc, FlipError) else logging.ERROR
            log.log(level, "auto-rollback of feature %r not written: %s", name, exc)
            return
        record = task.result()
        self.state.reload()
        self.metrics.rollbacks.labels(name, breach.limit).inc()
        self.history.append(record.to_dict())
        log.warning("AUTO-ROLLBACK done: feature %r is now %s (was %s); ledger entry by %r", name,
                    record.to_state, record.from_state, ACTOR)


def _expect(state: State) -> Gate:
    """Refuse when the file's state is no longer the one judged (an operator flipped meanwhile)."""
    def expected_state(table: RouteTable, feature: str, to: State) -> list[str]:
        now = table.features[feature].state
        if now is not state:
            return [f"{feature!r} is now {now.value!r}, not {state.value!r} as judged; rollback skipped"]
        return []
    return expected_state
