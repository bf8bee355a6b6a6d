"""The one shadow comparison engine, shared by the façade's shadow worker and the nginx-mirror comparator.

A Job says what the client asked (method, path, headers, body), which upstream receives the copy, and who
served the client. The engine sends the copy (a write only to a `dry_run_writes` upstream that proved it
rolls writes back, signed with STRANGLER_SHADOW_KEY via strangler_app.protocol; proxy/shadow/safety.py
judges every answer's acknowledgement), optionally asks legacy a second time for the noise sample (safe
methods only), takes the reference answer — the one served to the client when the façade saw it, else
(nginx mirror) legacy asked by us — compares with the feature's normaliser, cancels noise, records in the
parity store and reports what happened as small event tuples through `emit`:

    ("sent", feature, kind, outcome)      kind copy|noise, outcome ok|timeout|connect|protocol
    ("drop", feature, reason)             not compared: served_side_failed, reference_copy_failed, ...
    ("compared", feature, result)         match | diff (real, noise excluded) | error
    ("verdict", feature, is_error, latency_ms, differs, copy_is_target, cause, client, legacy_status,
     target_status)                       what auto-rollback judges (see Verdict)
    ("dry_run", feature, status)          a mirrored write with no reference: only counted
    ("unsafe", feature, upstream, reason, seconds)   this process marked a dry-run target unsafe (ledger it)

Why tuples: in the façade they cross a process boundary in batches and must cost microseconds to apply.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

import httpx
from strangler_app import protocol as signing
from strangler_app.identity import HEADER as IDENTITY_HEADER

from proxy.identity import Carried, env_key
from proxy.identity import copy_headers as identity_headers
from proxy.parity import (
    NoiseTracker,
    ParityStore,
    RequestInfo,
    Response,
    compare_exchange,
    normaliser_for,
)
from proxy.parity.causes import identity_cause
from proxy.shadow.clients import Outcome, Request, UpstreamClients, copy_headers
from proxy.shadow.errors import ErrorLog, ShadowError
from proxy.shadow.safety import Probe, TargetSafety
from proxy.shadow.wire import STALE
from proxy.table import RouteTable

log = logging.getLogger("strangler.shadow")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per shadow copy would flood the log
SAFE_METHODS = frozenset({"GET", "HEAD"})
_COPY_DROP = frozenset({signing.HEADER.lower(), signing.ACK_HEADER.lower(), "x-strangler-mirror-feature",
                        IDENTITY_HEADER.lower()})  # each send signs its own identity (proxy/identity.py)
Emit = Callable[[tuple], None]
UNSAFE_COPY = "unsafe"  # an Outcome.error_kind: the target answered a signed write without acknowledging it
STALE_CONNECTION = STALE  # closed before any answer byte (the message of wire.py and of httpcore alike)


class Job(NamedTuple):
    """One shadowed request. `headers` are the client's, as received (str or bytes pairs): the engine
    filters them, so the façade hands over mitmproxy's header fields without copying them. A NamedTuple
    because it crosses the pipe as a plain tuple (pickling a tuple costs a third of a dataclass)."""

    feature: str
    route: str
    method: str
    path: str              # with the query string, as the client sent it
    headers: tuple
    body: bytes
    copy_to: str           # upstream name that receives the copy
    served_by: str | None  # upstream that served the client; None = not seen (nginx mirror): ask legacy
    noise: bool            # also ask legacy a second time (ignored for writes)
    served_timeout_s: float = 0.0
    client: str = ""       # the client's cohort key (auto-rollback counts distinct clients behind regressions)
    identity: Carried | None = None  # remote identity: who the façade resolved (each send signs its own header)


@dataclass(frozen=True, slots=True)
class Served:
    """The answer the client got, as the façade saw it."""

    response: Response
    latency_ms: float


@dataclass(frozen=True, slots=True)
class Verdict:
    """One comparison, reduced to what auto-rollback needs."""

    feature: str
    is_error: bool
    latency_ms: float | None
    differs: bool          # a real difference (noise excluded)
    copy_is_target: bool   # legacy was the reference, so the copy went to the feature's target
    cause: str = ""        # proxy.parity.causes.Cause value (status_class: the status class differs)
    client: str = ""       # Job.client
    legacy_status: int | None = None   # the reference's status (legacy is always the reference)
    target_status: int | None = None   # the candidate's (None: no answer)


class Engine:
    def __init__(self, store: ParityStore, key: str, emit: Emit, *,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.store = store
        self.key = key
        self.emit = emit
        self.clients = UpstreamClients(transport)
        self.noise = NoiseTracker()
        self.errors = ErrorLog()
        self.safety = TargetSafety(store, key, self._send_probe,
                                   lambda *unsafe: emit(("unsafe", *unsafe)))

    async def run(self, job: Job, table: RouteTable, served: Awaitable[Served | None] | None) -> None:
        """Never raises (a shadow bug must not take its process down); failures become a drop event."""
        try:
            await self._run(job, table, served)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shadow exchange failed for %s %s", job.method, job.path)
            self.emit(("drop", job.feature, "internal_error"))
        finally:
            if asyncio.iscoroutine(served):
                served.close()  # a job dropped before it waited for the served answer

    async def _run(self, job: Job, table: RouteTable, served: Awaitable[Served | None] | None) -> None:
        feature = table.features.get(job.feature)
        copy_up, legacy = table.upstreams.get(job.copy_to), table.upstreams[table.default]
        if feature is None or copy_up is None:
            self.emit(("drop", job.feature, "unknown_route"))
            return
        safe = job.method in SAFE_METHODS
        if not safe and not (copy_up.dry_run_writes and self.key):  # the façade decides this too; never trust it
            self.emit(("drop", job.feature, "write_not_dry_runnable"))
            return
        if not safe and (refused := await self.safety.admit(job.copy_to, copy_up, job.feature)) is not None:
            self.emit(("drop", job.feature, refused))  # target_unsafe | unproven
            return
        headers = copy_headers([_str_pair(k, v) for k, v in job.headers], _COPY_DROP)
        request = self.clients.build(copy_up, job.method, job.path, self._seam(
            job, headers, to_legacy=job.copy_to == table.default, forward=feature.identity.forward_credentials),
            job.body)
        signature = ""
        if not safe:
            signature = signing.sign(self.key, job.method, request.raw_path, job.body)
            request.headers.append((signing.HEADER, signature))
        sends: list[Awaitable[Outcome]] = [
            self._checked(job, copy_up, signature, self._send_copy(copy_up, request, safe))]
        fetch_reference = job.served_by is None
        if fetch_reference:
            if not safe:  # nobody showed us legacy's answer to this write, and it is never asked twice
                copy = (await asyncio.gather(*sends))[0]
                self._count(job.feature, "copy", copy)
                if copy.error_kind == UNSAFE_COPY:
                    return
                status = str(copy.response.status) if copy.response is not None else "no answer"
                self.emit(("dry_run", job.feature, copy.error_kind or status))
                return
            sends.append(self._ask(legacy, job, headers))
        noise = safe and job.noise
        if noise:
            sends.append(self._ask(legacy, job, headers))
        outcomes = [await sends[0]] if len(sends) == 1 else await asyncio.gather(*sends)  # one: no task
        copy, again = outcomes[0], (outcomes[-1] if noise else None)
        self._count(job.feature, "copy", copy)
        if again is not None:
            self._count(job.feature, "noise", again)
        if copy.error_kind == UNSAFE_COPY:
            return  # dropped (no_dry_run_ack) and never compared: that answer came from a committed write
        if fetch_reference:
            if outcomes[1].response is None:
                self.emit(("drop", job.feature, "reference_failed"))
                return
            got: Served | None = Served(outcomes[1].response, outcomes[1].latency_ms)
            served_by = table.default
        else:
            got = await served if served is not None else None
            served_by = job.served_by if job.served_by is not None else table.default  # (not None here)
        if got is None:
            self.emit(("drop", job.feature, "served_side_failed"))
            return
        reference_is_served = served_by == table.default  # legacy answered: the copy is the candidate
        if reference_is_served:
            reference, ref_url = got.response, table.upstreams[served_by].url
            candidate, error, latency, cand_url = copy.response, copy.error, copy.latency_ms, copy_up.url
            cand_name = job.copy_to
        else:
            if copy.response is None:
                self.emit(("drop", job.feature, "reference_copy_failed"))
                return
            reference, ref_url = copy.response, copy_up.url
            candidate, error, latency = got.response, None, got.latency_ms
            cand_url = table.upstreams[served_by].url
            cand_name = served_by
        result = compare_exchange(  # classifies the cause first and redacts secrets before anything is stored
            normaliser_for(feature.parity), feature=job.feature, route=job.route,
            request=RequestInfo.of(job.method, job.path, headers, job.body), reference=reference,
            candidate=candidate, reference_again=again.response if again is not None else None,
            error=error, latency_ms=latency, reference_url=ref_url, candidate_url=cand_url)
        if job.identity is not None and result.cause is not None:  # an auth problem is one finding
            result.cause = identity_cause(result.cause, job.identity.status if env_key() else "failed",
                                          reference.status if reference else None,
                                          candidate.status if candidate is not None and error is None else None)
        if result.is_error:  # its kind, upstream and elapsed time: the stored cause label, and one log line
            failure = (ShadowError.no_answer(copy.error_kind or "protocol", cand_name, latency or 0.0, error)
                       if error is not None or candidate is None else
                       ShadowError.server_error(cand_name, latency or 0.0, reference.status, candidate.status))
            result.cause = failure.classified()
            self.errors.record(job.feature, job.method, job.route, failure)
        self.noise.observe(result)
        real = [] if result.is_error else self.noise.real_differences(result)
        self.emit(("compared", job.feature, "error" if result.is_error else ("diff" if real else "match")))
        self.store.record(result)
        self.emit(("verdict", job.feature, result.is_error, result.latency_ms, bool(real), reference_is_served,
                   result.classified().cause.value, job.client, reference.status if reference else None,
                   candidate.status if candidate is not None and error is None else None))

    async def _checked(self, job: Job, upstream, signature: str, sending: Awaitable[Outcome]) -> Outcome:
        """The copy's outcome; a signed write answered without a valid acknowledgement marks the target unsafe
        and its answer is not compared (the target committed it: it is no dry run)."""
        outcome = await sending
        if signature and outcome.response is not None and not await self.safety.answered(
                job.copy_to, upstream, job.feature, signature, outcome.response):
            self.emit(("drop", job.feature, "no_dry_run_ack"))
            return Outcome(None, outcome.latency_ms, UNSAFE_COPY, "no dry-run acknowledgement")
        return outcome

    async def _send_copy(self, upstream, request: Request, safe: bool) -> Outcome:
        """The copy. A safe one whose kept-alive connection the server closed before any answer byte (it timed
        the idle connection out as the copy went out: a race of the pool, not the candidate's answer) is sent
        once more (the pool has dropped that connection), as the façade does on the live path
        (proxy/addons/keepalive.py); a second failure is the candidate's."""
        outcome = await self.clients.send(upstream, request)
        if safe and outcome.error_kind == "protocol" and STALE_CONNECTION in (outcome.error or ""):
            again = await self.clients.send(upstream, request)
            return Outcome(again.response, outcome.latency_ms + again.latency_ms, again.error_kind, again.error)
        return outcome

    def _send_probe(self, upstream, probe: Probe) -> Awaitable[Outcome]:
        return self.clients.send(upstream, self.clients.build(upstream, probe.method, probe.path,
                                                              [(signing.HEADER, probe.signature)], b""))

    @staticmethod
    def _seam(job: Job, headers: list[tuple[str, str]], *, to_legacy: bool, forward: bool = False) -> list:
        """The headers of one send: with remote identity, its own signed header and the credential only towards
        legacy (or with forward_credentials)."""
        if job.identity is None:
            return list(headers)
        return identity_headers(headers, job.identity, env_key(), method=job.method, path=job.path,
                                to_legacy=to_legacy, forward_credentials=forward)

    def _ask(self, upstream, job: Job, headers: list[tuple[str, str]]) -> Awaitable[Outcome]:
        return self.clients.send(upstream, self.clients.build(upstream, job.method, job.path,
                                                              self._seam(job, headers, to_legacy=True),
                                                              job.body))

    def _count(self, feature: str, kind: str, outcome: Outcome) -> None:
        self.emit(("sent", feature, kind, outcome.error_kind or "ok"))

    async def aclose(self) -> None:
        self.errors.close()
        await self.clients.aclose()


def _str_pair(name: str | bytes, value: str | bytes) -> tuple[str, str]:
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return name, value
