"""The one shadow comparison engine, shared by the façade's shadow worker and the nginx-mirror comparator.

A Job says what the client asked (method, path, headers, body), which upstream receives the copy, and who
served the client. The engine sends the copy (a write only to a `dry_run_writes` upstream, signed with
STRANGLER_SHADOW_KEY via proxy/signing.py, so the target rolls it back), optionally asks legacy a second time
for the noise sample (safe methods only), takes the reference answer — the one served to the client when
the façade saw it, else (nginx mirror) legacy asked by us — compares with the feature's normaliser, cancels
noise, records in the parity store and reports what happened as small event tuples through `emit`:

    ("sent", feature, kind, outcome)      kind copy|noise, outcome ok|timeout|connect|protocol
    ("drop", feature, reason)             not compared: served_side_failed, reference_copy_failed, ...
    ("compared", feature, result)         match | diff (real, noise excluded) | error
    ("verdict", feature, is_error, latency_ms, differs, copy_is_target)   what auto-rollback judges
    ("dry_run", feature, status)          a mirrored write with no reference: only counted

Why tuples: in the façade they cross a process boundary in batches and must cost microseconds to apply.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import NamedTuple

import httpx

from proxy import signing
from proxy.parity import (
    NoiseTracker,
    ParityStore,
    RequestInfo,
    Response,
    compare_exchange,
    normaliser_for,
)
from proxy.shadow.clients import Outcome, UpstreamClients, copy_headers
from proxy.table import RouteTable

log = logging.getLogger("strangler.shadow")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per shadow copy would flood the log
SAFE_METHODS = frozenset({"GET", "HEAD"})
_COPY_DROP = frozenset({signing.HEADER.lower(), "x-strangler-mirror-feature"})
_STORED_DROP = frozenset({"authorization", "cookie", "proxy-authorization"})
Emit = Callable[[tuple], None]


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


class Engine:
    def __init__(self, store: ParityStore, key: str, emit: Emit, *,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.store = store
        self.key = key
        self.emit = emit
        self.clients = UpstreamClients(transport)
        self.noise = NoiseTracker()

    async def run(self, job: Job, table: RouteTable, served: Awaitable[Served | None] | None) -> None:
        """Never raises (a shadow bug must not take its process down); failures become a drop event."""
        try:
            await self._run(job, table, served)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("shadow exchange failed for %s %s", job.method, job.path)
            self.emit(("drop", job.feature, "internal_error"))

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
        headers = copy_headers([_str_pair(k, v) for k, v in job.headers], _COPY_DROP)
        request = self.clients.build(copy_up, job.method, job.path, list(headers), job.body)
        if not safe:
            request.headers[signing.HEADER] = signing.sign(self.key, job.method, request.url.raw_path.decode(
                "ascii"), job.body)
        sends = [self.clients.send(copy_up, request)]
        fetch_reference = job.served_by is None
        if fetch_reference:
            if not safe:  # nobody showed us legacy's answer to this write, and it is never asked twice
                copy = (await asyncio.gather(*sends))[0]
                self._count(job.feature, "copy", copy)
                self.emit(("dry_run", job.feature, copy.error_kind or str(copy.response.status)))
                return
            sends.append(self._ask(legacy, job, headers))
        noise = safe and job.noise
        if noise:
            sends.append(self._ask(legacy, job, headers))
        outcomes = await asyncio.gather(*sends)
        copy, again = outcomes[0], (outcomes[-1] if noise else None)
        self._count(job.feature, "copy", copy)
        if again is not None:
            self._count(job.feature, "noise", again)
        if fetch_reference:
            if outcomes[1].response is None:
                self.emit(("drop", job.feature, "reference_failed"))
                return
            got: Served | None = Served(outcomes[1].response, outcomes[1].latency_ms)
            served_by = table.default
        else:
            got = await served if served is not None else None
            served_by = job.served_by
        if got is None:
            self.emit(("drop", job.feature, "served_side_failed"))
            return
        reference_is_served = served_by == table.default  # legacy answered: the copy is the candidate
        if reference_is_served:
            reference, ref_url = got.response, table.upstreams[served_by].url
            candidate, error, latency, cand_url = copy.response, copy.error, copy.latency_ms, copy_up.url
        else:
            if copy.response is None:
                self.emit(("drop", job.feature, "reference_copy_failed"))
                return
            reference, ref_url = copy.response, copy_up.url
            candidate, error, latency = got.response, None, got.latency_ms
            cand_url = table.upstreams[served_by].url
        stored = [(k, v) for k, v in headers if k.lower() not in _STORED_DROP]
        result = compare_exchange(
            normaliser_for(feature.parity), feature=job.feature, route=job.route,
            request=RequestInfo.of(job.method, job.path, stored, job.body), reference=reference,
            candidate=candidate, reference_again=again.response if again is not None else None,
            error=error, latency_ms=latency, reference_url=ref_url, candidate_url=cand_url)
        self.noise.observe(result)
        real = [] if result.is_error else self.noise.real_differences(result)
        self.emit(("compared", job.feature, "error" if result.is_error else ("diff" if real else "match")))
        self.store.record(result)
        self.emit(("verdict", job.feature, result.is_error, result.latency_ms, bool(real), reference_is_served))

    def _ask(self, upstream, job: Job, headers: list[tuple[str, str]]) -> Awaitable[Outcome]:
        return self.clients.send(upstream, self.clients.build(upstream, job.method, job.path, list(headers),
                                                              job.body))

    def _count(self, feature: str, kind: str, outcome: Outcome) -> None:
        self.emit(("sent", feature, kind, outcome.error_kind or "ok"))

    async def aclose(self) -> None:
        await self.clients.aclose()


def _str_pair(name: str | bytes, value: str | bytes) -> tuple[str, str]:
    if isinstance(name, bytes):
        name = name.decode("utf-8", "surrogateescape")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    return name, value
