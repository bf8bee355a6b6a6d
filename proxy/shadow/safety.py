"""Which dry-run targets may receive shadowed writes: only those that PROVED they roll them back.

Why: `dry_run_writes: true` in the route table is a claim, not a proof. A target that ignores the protocol
(strangler_app.protocol) commits every copy it gets. So before the first write copy the worker calls the
target's reserved probe route, signed; only an answer carrying a valid acknowledgement (an HMAC over our
signature, computable only with the shared key) makes the target `proven`. Every signed write's answer is
checked the same way; one answer without a valid acknowledgement marks the target `unsafe` at once: no
further write copies go to it (dropped and counted), the state is kept in the parity store (it survives
restarts and is shared by every façade on that store) and the ledger records it once. Only a passing
`strangler parity probe-writes FEATURE` makes it proven again. Config alone never makes a target safe.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from strangler_app import protocol

from proxy.flips import FlipRecord
from proxy.parity import Response
from proxy.parity.store import TARGET_PROVEN as PROVEN
from proxy.parity.store import TARGET_UNSAFE as UNSAFE
from proxy.parity.store import UNSAFE_TEXT, ParityStore
from proxy.stores import Ledger, open_ledger

log = logging.getLogger("strangler.shadow")
RECHECK_S = 5.0       # how old a cached state may be: `parity probe-writes` changes it from another process
PROBE_RETRY_S = 10.0  # after a probe that got no answer at all (target down): the state stays unproven


@dataclass(frozen=True, slots=True)
class Probe:
    """The signed probe request: POST PROBE_PATH with an empty body."""

    signature: str
    path: str = protocol.PROBE_PATH
    method: str = "POST"

    @classmethod
    def new(cls, key: str) -> Probe:
        return cls(protocol.sign(key, "POST", protocol.PROBE_PATH, b""))


def missing_ack(key: str, signature: str, response: Response) -> str | None:
    """None when `response` acknowledges `signature`, else why not (the reason recorded)."""
    if protocol.ack_valid(key, signature, response.status, response.header(protocol.ACK_HEADER)):
        return None
    got = "an invalid" if response.header(protocol.ACK_HEADER) else f"no {protocol.ACK_HEADER}"
    return f"answered a signed request with {response.status} and {got} acknowledgement"


def probe_now(key: str, upstream: Any) -> tuple[str | None, str]:
    """Probe a target synchronously (the CLI): (PROVEN | UNSAFE | None when it did not answer, detail)."""
    probe = Probe.new(key)
    try:
        with httpx.Client(base_url=upstream.url, timeout=upstream.timeout_s, trust_env=False) as client:
            answer = client.post(probe.path, content=b"", headers={protocol.HEADER: probe.signature})
    except httpx.HTTPError as exc:
        return None, f"no answer from {upstream.url}{probe.path}: {type(exc).__name__}: {exc}"
    reason = missing_ack(key, probe.signature, Response.of(answer.status_code, answer.headers.multi_items(),
                                                           answer.content))
    if reason is not None:
        return UNSAFE, f"probe {probe.path}: {reason}"
    return PROVEN, f"probe {probe.path} acknowledged"


def record_verdict(store: ParityStore, ledger: Ledger | Any, feature: Any, name: str, upstream_name: str,
                   upstream: Any, verdict: str, detail: str, *, actor: str) -> None:
    """Store a probe's verdict for the target and ledger it (an operator's probe is always ledgered).
    `ledger`: a Ledger or a location proxy.stores.open_ledger understands (None: the one in force)."""
    store.mark_target(upstream_name, verdict, feature=name, url=upstream.url, reason=detail)
    open_ledger(ledger).append_ledger(ledger_record(
        name, feature.state, feature.canary_percent, actor=actor, upstream=upstream_name, verdict=verdict,
        reason=detail).to_dict())


def ledger_unsafe(table: Any, feature: str, upstream: str, reason: str, seconds: float, *, actor: str,
                  ledger: Ledger | None = None) -> None:
    """What a process does when its engine marked a target unsafe (the "unsafe" event, once per target):
    one log line and one ledger entry (in `ledger`, the façade's table store; None: the one in force).
    Blocking (file or database): run it in a thread."""
    log.error("dry-run target %r of feature %r: %s (%s); marked unsafe %.1f ms after that answer. Fix: install "
              "strangler_app's middleware in that service, then `strangler parity probe-writes %s`",
              upstream, feature, UNSAFE_TEXT, reason, seconds * 1000, feature)
    current = table.features.get(feature) if table is not None else None
    open_ledger(ledger).append_ledger(ledger_record(
        feature, current.state if current else "-", current.canary_percent if current else None, actor=actor,
        upstream=upstream, verdict=UNSAFE, reason=reason).to_dict())


def ledger_record(feature: str, state: Any, percent: float | None, *, actor: str, upstream: str, verdict: str,
                  reason: str) -> FlipRecord:
    """A ledger entry (the feature's state unchanged) saying what a target proved."""
    text = UNSAFE_TEXT if verdict == UNSAFE else "target acknowledges dry-run — writes shadowed"
    return FlipRecord.note(feature, state, percent, actor=actor, reason=f"{upstream}: {text}",
                           evidence={"action": f"dry_run.{verdict}", "upstream": upstream, "detail": reason})


class TargetSafety:
    """The worker's view of its dry-run targets (cached from the store, re-read every RECHECK_S).

    `admit` says whether a write copy may go to a target now (probing it first when unproven);
    `answered` judges the answer to a signed copy. `on_unsafe(feature, upstream, reason, seconds)` is called
    once per target that this process marked unsafe (the façade ledgers it); `seconds` is the time from the
    unsafe answer to the state being stored."""

    def __init__(self, store: ParityStore, key: str, send_probe: Callable[[Any, Probe], Any],
                 on_unsafe: Callable[[str, str, str, float], None]):
        self.store, self.key = store, key
        self._send_probe = send_probe  # async (upstream, Probe) -> Outcome
        self._on_unsafe = on_unsafe
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._probing: dict[str, asyncio.Task] = {}
        self._probe_failed: dict[str, float] = {}

    async def admit(self, name: str, upstream: Any, feature: str) -> str | None:
        """None = send the write copy; else the drop reason: target_unsafe | unproven."""
        state = await self._state(name)
        if state == UNSAFE:
            return "target_unsafe"
        if state == PROVEN:
            return None
        probing = self._probing.get(name)
        if probing is None and (settled := self._cache.get(name, (None,))[0]) is not None:
            return None if settled == PROVEN else "target_unsafe"  # a probe ended while this copy waited
        if probing is None:
            if time.monotonic() - self._probe_failed.get(name, -PROBE_RETRY_S) < PROBE_RETRY_S:
                return "unproven"
            probing = self._probing[name] = asyncio.get_running_loop().create_task(self._probe(name, upstream,
                                                                                                feature))
            probing.add_done_callback(lambda _: self._probing.pop(name, None))
        state = await asyncio.shield(probing)  # writes arriving meanwhile wait for the same probe (bounded by
        # the upstream's timeout), so a burst is neither dropped nor probed twice
        return None if state == PROVEN else ("target_unsafe" if state == UNSAFE else "unproven")

    async def answered(self, name: str, upstream: Any, feature: str, signature: str, response: Response) -> bool:
        """Judge the answer to a signed write copy; False (and the target marked unsafe) without a valid ack."""
        reason = missing_ack(self.key, signature, response)
        if reason is None:
            return True
        await self._mark_unsafe(name, upstream, feature, reason, time.time(), time.perf_counter())
        return False

    async def _probe(self, name: str, upstream: Any, feature: str) -> str | None:
        probe = Probe.new(self.key)
        outcome = await self._send_probe(upstream, probe)
        if outcome.response is None:
            self._probe_failed[name] = time.monotonic()
            return None
        reason = missing_ack(self.key, probe.signature, outcome.response)
        if reason is not None:
            await self._mark_unsafe(name, upstream, feature, f"probe {protocol.PROBE_PATH}: {reason}", time.time(),
                                    time.perf_counter())
            return UNSAFE
        await asyncio.to_thread(self.store.mark_target, name, PROVEN, feature=feature, url=upstream.url,
                                reason=f"probe {protocol.PROBE_PATH} acknowledged")
        self._cache[name] = (PROVEN, time.monotonic())
        return PROVEN

    async def _mark_unsafe(self, name: str, upstream: Any, feature: str, reason: str, answered_at: float,
                           answered_perf: float) -> None:
        self._cache[name] = (UNSAFE, time.monotonic())  # no other copy leaves from now on
        changed = await asyncio.to_thread(self.store.mark_target, name, UNSAFE, feature=feature, url=upstream.url,
                                          reason=reason, first_answer_at=answered_at)
        if changed:
            self._on_unsafe(feature, name, reason, time.perf_counter() - answered_perf)

    async def _state(self, name: str) -> str | None:
        cached = self._cache.get(name)
        if cached is not None and time.monotonic() - cached[1] < RECHECK_S:
            return cached[0]
        asked = time.monotonic()
        targets = await asyncio.to_thread(self.store.targets)
        # A probe or an unsafe answer judged while the store was being read is newer than what was read:
        # never let the older read overwrite it (a burst would otherwise probe twice).
        for other in {*targets, name}:
            cached = self._cache.get(other)
            if cached is None or cached[1] < asked:
                self._cache[other] = (targets.get(other, {}).get("state"), asked)
        return self._cache[name][0]
