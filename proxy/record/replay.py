"""Replay recorded requests as parity (issue 22): `strangler parity replay FEATURE`.

A replayed READ is sent to the candidate and, at the same time, to legacy (same request, credentials
restored): both read the same data now, so a field whose data moved since the recording (a price, a stock
count) is not a difference. Legacy's answer NOW is the reference; the noise sample is legacy asked a second
time, by the shadow rule (proxy/parity/sampling.py: the first reads of each route, then the feature's
`parity.noise_sample_rate`), so it is genuine live noise and joins the feature's stats. A recorded answer is
the reference only when legacy cannot be asked: a replayed WRITE (never sent to legacy again, no noise
sample), or a read legacy did not answer (no noise sample; the summary says so once). The comparison is the
shadow one: compare_exchange with the feature's normaliser and rules, recorded in the same parity store with
the source marked "replay" (the report says so).

Safe by default: reads only. A recorded write is sent only to a target that declares `dry_run_writes` and
has PROVEN it honours dry-run (proxy/shadow/safety.py's verdict in the store, from the façade or `strangler
parity probe-writes`), signed with STRANGLER_SHADOW_KEY; an answer without a valid acknowledgement marks the
target unsafe and stops every further write. A body cut at record time is never replayed or compared as if
whole. Redacted values come back from the environment variables their placeholders name (tagged name, else
the untagged one, as in exported repros); a case with one unset is "needs credentials", never sent without
it. A candidate that does not answer stops the run with one error.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote

from strangler_app import protocol

from proxy.parity import ComparisonResult, NoiseTracker, RequestInfo, Response, compare_exchange, normaliser_for
from proxy.parity.redact import restore
from proxy.parity.sampling import NoiseSampler
from proxy.parity.store import ParityStore
from proxy.record.capture import body_bytes
from proxy.record.storage import Recording
from proxy.shadow.clients import Outcome, UpstreamClients, copy_headers
from proxy.shadow.safety import missing_ack
from proxy.table import Feature, Upstream

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
DOWN_AFTER = 5         # consecutive connection failures that mean "the target is down": stop, one error
FLUSH_EVERY = 1000     # store.flush() this often (the store's queue is bounded)
_FIELDS = tuple(f.name for f in dataclasses.fields(ComparisonResult))  # ReplayedResult's, "source" last
_DROP = frozenset({"x-strangler-mirror-feature", protocol.HEADER.lower(), protocol.ACK_HEADER.lower()})


@dataclass(slots=True)
class ReplayedResult(ComparisonResult):
    """A comparison whose request came from a recording (the parity report shows the source)."""

    source: str = "replay"


class TargetDown(Exception):
    """The candidate does not answer at all: the run stops with this one message."""


@dataclass
class Summary:
    compared: int = 0
    equal: int = 0
    differ: int = 0
    errors: int = 0
    weight_compared: float = 0.0
    weight_differ: float = 0.0
    needs_credentials: dict[str, int] = field(default_factory=dict)  # environment variable -> cases
    skipped: dict[str, int] = field(default_factory=dict)            # reason -> cases
    differing: list[tuple[int, str, str, list[str]]] = field(default_factory=list)  # id, method, path, fields
    noise_skipped: str | None = None

    @property
    def diff_rate(self) -> float:
        ok = self.compared - self.errors
        return self.differ / ok if ok else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.compared if self.compared else 0.0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def to_dict(self) -> dict[str, object]:
        return {"compared": self.compared, "equal": self.equal, "differ": self.differ, "errors": self.errors,
                "diff_rate": self.diff_rate, "error_rate": self.error_rate,
                "weighted_diff_share": self.weight_differ / self.weight_compared if self.weight_compared else 0.0,
                "needs_credentials": self.needs_credentials, "skipped": self.skipped,
                "differing": [{"recording": i, "request": f"{m} {p}", "fields": f} for i, m, p, f in self.differing],
                "noise_skipped": self.noise_skipped}


@dataclass
class Replayer:
    feature: str
    spec: Feature
    candidate: Upstream
    candidate_name: str
    legacy: Upstream
    store: ParityStore
    environ: Mapping[str, str]
    writes: bool = False          # the target proved it honours dry-run and a key is set
    key: str = ""
    concurrency: int = 16
    noise_rate: float | None = None
    clients: UpstreamClients = field(default_factory=UpstreamClients)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.normaliser = normaliser_for(self.spec.parity)
        self.noise = NoiseTracker()
        self.summary = Summary()
        self._sampler = NoiseSampler(self.rng)
        self._down = 0
        self._legacy_up = True
        self._legacy_fails = 0
        self._stop: str | None = None

    async def run(self, cases: Iterable[tuple[Recording, float]]) -> Summary:
        """Replay every (recording, weight); raises TargetDown when the candidate does not answer."""
        await self._preflight()
        sem = asyncio.Semaphore(self.concurrency)
        pending: set[asyncio.Task[None]] = set()
        done = 0
        try:
            for recording, weight in cases:
                if self._stop:
                    break
                await sem.acquire()
                task = asyncio.get_running_loop().create_task(self._one(recording, weight))
                pending.add(task)
                task.add_done_callback(pending.discard)
                task.add_done_callback(lambda _: sem.release())
                done += 1
                if done % FLUSH_EVERY == 0:
                    await asyncio.to_thread(self.store.flush)
            if pending:
                await asyncio.gather(*pending)
        finally:
            await self.clients.aclose()
            await asyncio.to_thread(self.store.flush)
        if self._stop:
            raise TargetDown(self._stop)
        return self.summary

    async def _preflight(self) -> None:
        for name, up in ((self.candidate_name, self.candidate), ("legacy", self.legacy)):
            outcome = await self.clients.send(up, self.clients.build(up, "GET", up.health or "/", [], b""))
            if outcome.error_kind is None:
                continue
            if up is self.candidate:
                raise TargetDown(_down_text(name, up, outcome))
            self._legacy_down(outcome, stop=True)

    def _legacy_down(self, outcome: Outcome, *, stop: bool = False) -> None:
        """Legacy did not answer: from now on no noise sample is taken, a read it does not answer falls back to
        its recorded answer, and after DOWN_AFTER consecutive failures legacy is not asked again in this run."""
        self._legacy_fails += 1
        if stop or self._legacy_fails >= DOWN_AFTER:
            self._legacy_up = False
        self.summary.noise_skipped = self.summary.noise_skipped or (
            f"legacy does not answer ({outcome.error}): reads compared with their recorded answers instead, "
            "no noise samples taken")

    async def _one(self, rec: Recording, weight: float) -> None:
        if self._stop:
            return
        req, resp = rec.request, rec.response
        if req.get("body_truncated"):
            self.summary.skip("request body cut at record time (never replayed as if whole)")
            return
        safe = rec.method in SAFE
        if not safe and not self.writes:
            self.summary.skip("write (the target has not proven it honours dry-run)")
            return
        if not safe and resp.get("body_truncated"):
            self.summary.skip("write whose recorded answer was cut")
            return
        headers, body, path, missing = self._restored(rec)
        if missing:
            for env in missing:
                self.summary.needs_credentials[env] = self.summary.needs_credentials.get(env, 0) + 1
            return
        request = self.clients.build(self.candidate, rec.method, path, headers, body)
        signature = ""
        if not safe:
            signature = protocol.sign(self.key, rec.method, request.raw_path, body)
            request.headers.append((protocol.HEADER, signature))
        live = safe and self._legacy_up  # a write is never sent to legacy again
        sends = [self.clients.send(self.candidate, request)]
        if live:
            rate = self.spec.parity.noise_sample_rate if self.noise_rate is None else self.noise_rate
            noise = not self.summary.noise_skipped and self._sampler.wanted(rec.route, rate)
            asks = 2 if noise else 1  # the reference now, and the noise sample
            sends += [self.clients.send(self.legacy, self.clients.build(self.legacy, rec.method, path, headers,
                                                                        body)) for _ in range(asks)]
        outcomes = await asyncio.gather(*sends)
        cand = outcomes[0]
        if cand.error_kind == "connect":
            self._down += 1
            if self._down >= DOWN_AFTER and not self._stop:
                self._stop = _down_text(self.candidate_name, self.candidate, cand)
            return
        self._down = 0
        if signature and cand.response is not None and missing_ack(self.key, signature, cand.response):
            self.writes = False  # committed, not a dry run: no further write leaves (and the store says so)
            reason = missing_ack(self.key, signature, cand.response) or ""
            await asyncio.to_thread(self.store.mark_target, self.candidate_name, "unsafe", feature=self.feature,
                                    url=self.candidate.url, reason=f"replayed write: {reason}")
            self.summary.skip("write answered without a dry-run acknowledgement (target marked unsafe)")
            return
        now = outcomes[1].response if live else None
        if now is not None:
            self._legacy_fails = 0
            again = outcomes[2].response if len(outcomes) > 2 else None
            self._compare(rec, weight, headers, body, path, now, cand, again)
            return
        if live:
            self._legacy_down(outcomes[1])
        if resp.get("body_truncated"):
            self.summary.skip("read whose recorded answer was cut, and legacy did not answer")
            return
        recorded = Response.of(resp["status"], [tuple(h) for h in resp.get("headers", [])], body_bytes(resp))
        self._compare(rec, weight, headers, body, path, recorded, cand, None)

    def _compare(self, rec: Recording, weight: float, headers: list[tuple[str, str]], body: bytes, path: str,
                 reference: Response, cand: Outcome, again: Response | None) -> None:
        result = compare_exchange(
            self.normaliser, feature=self.feature, route=rec.route, request=RequestInfo.of(rec.method, path, [
                (k, _recorded(rec, k, v)) for k, v in headers], body), reference=reference,
            candidate=cand.response, reference_again=again,
            error=cand.error, latency_ms=cand.latency_ms, reference_url=self.legacy.url,
            candidate_url=self.candidate.url)
        replayed = ReplayedResult(*[getattr(result, name) for name in _FIELDS])
        self.noise.observe(replayed)
        s = self.summary
        s.compared += 1
        s.weight_compared += weight
        if replayed.is_error:
            s.errors += 1
        elif real := self.noise.real_differences(replayed):
            s.differ += 1
            s.weight_differ += weight
            if len(s.differing) < 50:
                s.differing.append((rec.id, rec.method, rec.path, sorted({d.field for d in real})[:5]))
        else:
            s.equal += 1
        self.store.record(replayed)

    def _restored(self, rec: Recording) -> tuple[list[tuple[str, str]], bytes, str, list[str]]:
        missing: list[str] = []
        headers = []
        for name, value in copy_headers([tuple(h) for h in rec.request.get("headers", [])], _DROP):
            filled, gone = restore(value, self.environ)
            missing += gone
            headers.append((name, filled))
        path, gone = restore(rec.path, self.environ, lambda v: quote(v, safe=""))
        missing += gone
        raw = body_bytes(rec.request)
        if b"${STRANGLER_REPLAY_" in raw:
            text, gone = restore(raw.decode("utf-8"), self.environ, lambda v: json.dumps(v)[1:-1])
            raw, missing = text.encode("utf-8"), missing + gone
        return headers, raw, path, sorted(set(missing))


def _recorded(rec: Recording, name: str, value: str) -> str:
    """What the store keeps of a replayed header: the recorded placeholder again, never the secret filled in."""
    for k, v in rec.request.get("headers", []):
        if k == name:
            return str(v)
    return value


def _down_text(name: str, up: Upstream, outcome: Outcome) -> str:
    return (f"{name} at {up.url} does not answer ({outcome.error_kind}: {outcome.error}): nothing replayed "
            f"against it. Fix: start it (`strangler up -d`, `strangler status`) or pass --against another upstream")
