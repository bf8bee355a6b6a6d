"""Remote identity in the façade: who the caller is travels with the request, signed (issue 24, docs/identity.md).

For a feature with `identity: remote`, after routing has chosen the upstream and before the request leaves:
the caller is resolved once per request through the source upstream's /__strangler/identity (the client's
Cookie and Authorization, with the façade's proof), through a bounded LRU cache keyed by the credential's
SHA-256 (`cache_s`; a response that clears a cookie, or any logout path, drops that credential); the chosen
upstream gets X-Strangler-Identity signed for this request's method + path; Cookie/Authorization are removed
towards a non-legacy target unless `forward_credentials`. A client-sent identity header is dropped for every
feature (proxy/addons/headers.py), and a client can never call the identity endpoint through the façade.

A cache miss pauses the flow (flow.intercept(); the Pipeline runs the parts after this one when it resumes),
resolves with httpx on the event loop (timeout: the source upstream's timeout_s) and coalesces concurrent
misses of one credential. Fail closed: a monolith that cannot be asked (down, slow, 5xx, wrong key, no
endpoint) makes the request a 503 problem, never anonymous; one log line per failure, with no credential in it.
"""
from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
from typing import Any

import httpx
from mitmproxy import ctx, exceptions, http
from prometheus_client.core import CounterMetricFamily
from strangler_app.identity import (
    ANONYMOUS,
    ENDPOINT,
    HEADER,
    KEY_ENV,
    REQUEST_HEADER,
    IdentityError,
    Principal,
    request_proof,
    sign,
)

from proxy.addons.errors import json_error
from proxy.addons.pipeline import RESUME_META
from proxy.addons.routing import META, Decision
from proxy.addons.state import FacadeState
from proxy.identity import (
    IDENTITY_META,
    LOGOUT_PATH,
    Carried,
    IdentityCache,
    clears_cookie,
    credential_hash,
    env_key,
)
from proxy.table import Feature, RouteTable

log = logging.getLogger("strangler.facade")
CRED_META = "strangler_identity_cred"  # flow.metadata: the credential hash (for logout invalidation)
_ENDPOINT_B = ENDPOINT.encode()
_HEADER_B = HEADER.encode()
_CREDENTIAL_B = frozenset({b"cookie", b"authorization"})
_CREDENTIAL_LENS = frozenset(len(n) for n in _CREDENTIAL_B)
_FORWARDED_TO_SOURCE = ("cookie", "authorization", "user-agent", "x-forwarded-for", "x-forwarded-proto")
KEY_FIX = f"set {KEY_ENV} (>= 32 characters, the same value for the façade, the monolith and the services)"


class Unavailable(Exception):
    """The monolith could not say who the caller is: (reason, fix)."""


class _Outcomes:
    """strangler_identity_total{feature, outcome}: cached, resolved, anonymous (no credential), failed (503).

    Counted as plain ints on the event loop (its only writer) and read at scrape time: a prometheus_client
    Counter child's inc() is a lock and three Python calls on every warm request."""

    NAME, DOC = "strangler_identity", ("Remote identity per request: cached, resolved, anonymous (no credential), "
                                       "failed (503)")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def describe(self) -> list[CounterMetricFamily]:
        return [CounterMetricFamily(self.NAME, self.DOC, labels=["feature", "outcome"])]

    def collect(self) -> list[CounterMetricFamily]:
        family = CounterMetricFamily(self.NAME, self.DOC, labels=["feature", "outcome"])
        for (feature, outcome), count in self.counts.copy().items():  # copy(): one C call, safe from a scrape thread
            family.add_metric([feature, outcome], count)
        return [family]


class Identity:
    def __init__(self, state: FacadeState, *, transport: httpx.AsyncBaseTransport | None = None):
        self.state = state
        self.key = ""
        self.cache = IdentityCache()
        self.pending: dict[tuple[str, tuple[str, tuple[str, ...]]], asyncio.Task[Principal]] = {}
        self._tasks: set[asyncio.Task] = set()
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.outcomes = _Outcomes()
        state.metrics.registry.register(self.outcomes)

    def _count(self, feature: str, outcome: str) -> None:
        counts = self.outcomes.counts
        counts[feature, outcome] = counts.get((feature, outcome), 0) + 1

    # ---------------------------------------------------------------- lifecycle
    def load(self, loader: Any) -> None:
        loader.add_option("strangler_identity_cache_entries", int, 10000,
                          "Remote identity: how many credentials the façade's identity cache holds (LRU).")

    def configure(self, updated: set[str]) -> None:
        if "strangler_identity_cache_entries" in updated:
            entries = ctx.options.strangler_identity_cache_entries
            if entries < 1:
                raise exceptions.OptionsError(f"strangler_identity_cache_entries = {entries} must be >= 1. Fix: "
                                              "use a positive count, e.g. 10000")
            self.cache.max_entries = entries
        self.key = env_key()
        snap = self.state.current
        if not self.key and snap is not None and _remote_features(snap.table):
            raise exceptions.OptionsError(
                f"features {', '.join(_remote_features(snap.table))} use identity: remote, but {KEY_ENV} is "
                f"{'too short' if _env_set() else 'not set'}. Fix: {KEY_FIX}")

    async def running(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(transport=self._transport, trust_env=False,
                                             limits=httpx.Limits(max_connections=64, max_keepalive_connections=16))

    async def done(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    # ---------------------------------------------------------------- per request
    def request(self, flow: http.HTTPFlow) -> None:
        decision: Decision | None = flow.metadata.get(META)
        if decision is None or flow.response is not None:
            return
        req = flow.request
        if req.data.path.startswith(_ENDPOINT_B):  # the monolith's endpoint is the façade's alone
            self._answer(flow, decision, json_error(404, "not_found", "not found", decision.request_id))
            return
        if not decision.forwarded or decision.feature == "-":
            return
        snap = self.state.current
        feature = snap.table.features.get(decision.feature) if snap is not None else None
        if snap is None or feature is None or feature.identity.mode != "remote":
            return
        table = snap.table
        if not self.key:
            self._fail(flow, decision, table.default, f"{KEY_ENV} is not set", KEY_FIX)
            return
        cookie, auth = _credential(req.headers.fields)
        if not cookie and not auth:  # nothing to resolve: anonymous without asking
            self._count(decision.feature, "anonymous")
            self._apply(flow, decision, feature, table, ANONYMOUS)
            return
        cfg = feature.identity
        source = cfg.source or table.default
        cred = credential_hash(cookie, auth)
        flow.metadata[CRED_META] = cred
        variant = (source, tuple(cfg.session_keys))
        hit = self.cache.get(cred, variant)
        if hit is not None:
            self._count(decision.feature, "cached")
            self._apply(flow, decision, feature, table, hit)
            return
        lookup = self.pending.get((cred, variant))
        if lookup is None:
            headers = {name: value for name in _FORWARDED_TO_SOURCE if (value := req.headers.get(name))}
            headers["cookie"] = cookie.decode("latin-1")  # all Cookie lines, joined as one
            lookup = asyncio.get_running_loop().create_task(
                self._lookup(cred, variant, table, headers, cfg.cache_s), name="strangler identity")
            self.pending[(cred, variant)] = lookup
            lookup.add_done_callback(functools.partial(self._settled, (cred, variant)))
        flow.intercept()
        task = asyncio.get_running_loop().create_task(self._complete(flow, decision, lookup, source))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _settled(self, key: tuple[str, tuple[str, tuple[str, ...]]], _task: asyncio.Task[Principal]) -> None:
        self.pending.pop(key, None)

    def response(self, flow: http.HTTPFlow) -> None:
        """Logout invalidates: a response that clears a cookie, or any request to a logout path."""
        if not len(self.cache) or flow.response is None:
            return
        if LOGOUT_PATH.search(flow.request.data.path) is None and not _clears_a_cookie(flow.response.headers.fields):
            return
        cred = flow.metadata.get(CRED_META)
        if cred is None:
            cookie, auth = _credential(flow.request.headers.fields)
            if not cookie and not auth:
                return
            cred = credential_hash(cookie, auth)
        self.cache.invalidate(cred)

    # ---------------------------------------------------------------- resolving
    async def _complete(self, flow: http.HTTPFlow, decision: Decision, lookup: asyncio.Task, source: str) -> None:
        try:
            principal = await asyncio.shield(lookup)
            snap = self.state.current
            feature = snap.table.features.get(decision.feature) if snap is not None else None
            if snap is None or feature is None:
                raise Unavailable("the route table changed while resolving", "retry the request")
            self._count(decision.feature, "resolved")
            self._apply(flow, decision, feature, snap.table, principal)
        except Unavailable as exc:
            self._fail(flow, decision, source, *exc.args)
        except asyncio.CancelledError:
            self._fail(flow, decision, source, "the façade is shutting down", "retry the request")
            raise
        except Exception as exc:
            log.exception("identity resolution failed")
            self._fail(flow, decision, source, f"internal error ({type(exc).__name__})", "see the façade's log")
        finally:
            resume = flow.metadata.pop(RESUME_META, None)
            if resume is not None:
                resume()  # the parts after this one (upstream guard, telemetry, shadow), then the flow goes on
            else:
                flow.resume()

    async def _lookup(self, cred: str, variant: tuple, table: RouteTable, headers: dict[str, str],
                      cache_s: float) -> Principal:
        source = variant[0]
        upstream = table.upstreams[source]
        client = self._client
        if client is None:  # a request before `running` (mitmproxy serves while its startup hooks run)
            await self.running()
            client = self._client
            assert client is not None
        headers[REQUEST_HEADER] = request_proof(self.key)
        try:
            async with asyncio.timeout(upstream.timeout_s):
                resp = await client.post(upstream.url + ENDPOINT, headers=headers,
                                         timeout=httpx.Timeout(upstream.timeout_s))
        except (TimeoutError, httpx.TimeoutException):
            raise Unavailable(f"{source!r} did not answer within {upstream.timeout_s:g}s",
                              f"check that {source!r} is up and not overloaded (its timeout_s bounds the lookup)") \
                from None
        except httpx.HTTPError as exc:
            raise Unavailable(f"{source!r} could not be asked ({type(exc).__name__})",
                              f"check that {source!r} is up at {upstream.url}") from None
        if resp.status_code == 404:
            raise Unavailable(f"{source!r} has no identity endpoint ({ENDPOINT} answered 404)",
                              "install it in the monolith: RemoteIdentity(app) from strangler_app.flask_identity")
        if resp.status_code == 403:
            raise Unavailable(f"{source!r} refused the façade's identity request (403)", KEY_FIX + ", clocks agreeing")
        if resp.status_code != 200:
            raise Unavailable(f"{source!r} answered the identity request with {resp.status_code}",
                              f"see {source!r}'s log (its identify() or session store failed)")
        try:
            principal = Principal.from_json(resp.json())
        except (ValueError, IdentityError) as exc:
            raise Unavailable(f"{source!r} answered an unreadable identity ({exc})",
                              "answer the endpoint with strangler_app.flask_identity") from None
        keys = variant[1]  # the feature's session_keys: what its service may read of what the monolith shares
        if principal.session or keys:
            principal = dataclasses.replace(principal, session={k: principal.session[k] for k in keys
                                                                if k in principal.session})
        self.cache.put(cred, variant, principal, cache_s)
        return principal

    # ---------------------------------------------------------------- answers
    def _apply(self, flow: http.HTTPFlow, decision: Decision, feature: Feature, table: RouteTable,
               principal: Principal) -> None:
        """Sign for the chosen upstream; drop the credential towards a non-legacy target (kept for copies)."""
        data = flow.request.data
        removed: tuple[tuple[str, str], ...] = ()
        fields = flow.request.headers.fields
        if decision.upstream != table.default and not feature.identity.forward_credentials:
            kept: list[tuple[bytes, bytes]] = []
            gone: list[tuple[bytes, bytes]] = []
            for f in fields:
                (gone if len(f[0]) in _CREDENTIAL_LENS and f[0].lower() in _CREDENTIAL_B else kept).append(f)
            if gone:
                removed = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in gone)
                fields = tuple(kept)
        # the path as sent (latin-1 over its bytes, as ASGI servers hand raw_path to the service)
        value = sign(self.key, principal, method=data.method.decode("ascii", "replace"),
                     path=data.path.decode("latin-1"))
        flow.request.headers.fields = (*fields, (_HEADER_B, value.encode("ascii")))
        flow.metadata[IDENTITY_META] = Carried(principal, removed)

    def _fail(self, flow: http.HTTPFlow, decision: Decision, source: str, reason: str, fix: str) -> None:
        self._count(decision.feature, "failed")
        log.warning("identity unavailable: %s %s (feature %s): %s", flow.request.method,
                    flow.request.path.split("?", 1)[0], decision.feature, reason)
        answer = json_error(503, "identity_unavailable", f"identity unavailable: {reason}; the request was not sent "
                            f"(never as anonymous). Fix: {fix}", decision.request_id, feature=decision.feature,
                            source=source)
        answer.headers["Retry-After"] = "1"
        self._answer(flow, decision, answer)

    @staticmethod
    def _answer(flow: http.HTTPFlow, decision: Decision, response: http.Response) -> None:
        """The façade answers itself: never counted against the chosen upstream (breaker, rollback)."""
        flow.response = response
        decision.forwarded, decision.upstream = False, "facade"


def _credential(fields: tuple[tuple[bytes, bytes], ...]) -> tuple[bytes, bytes]:
    """The request's Cookie values (joined) and Authorization, in one pass over the raw header fields."""
    cookies: list[bytes] = []
    auth = b""
    for name, value in fields:
        size = len(name)  # the length first: most names are neither, and lower() allocates
        if size == 6 and name.lower() == b"cookie":
            cookies.append(value)
        elif size == 13 and not auth and name.lower() == b"authorization":
            auth = value
    return b"; ".join(cookies), auth


def _clears_a_cookie(fields: tuple[tuple[bytes, bytes], ...]) -> bool:
    """A Set-Cookie in these response fields deletes its cookie (proxy.identity.clears_cookie): a logout."""
    for name, value in fields:  # noqa: SIM110 - a loop, not any(<generator>): this runs on every response
        if len(name) == 10 and name.lower() == b"set-cookie" and clears_cookie(value):
            return True
    return False


def _remote_features(table: RouteTable) -> list[str]:
    return [name for name, f in table.features.items() if f.identity.mode == "remote"]


def _env_set() -> bool:
    return bool(os.environ.get(KEY_ENV))


__all__ = ["Identity", "Unavailable"]
