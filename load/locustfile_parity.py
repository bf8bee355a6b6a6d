"""Locust parity user: send each request of the mix to the reference (legacy) and to the candidate (--host:
façade or service), compare with the SHARED normaliser, fail the candidate request on a real difference.

Real = after the feature's parity rules (route table, --feature/--routes) and noise cancellation: the
reference is asked twice for the first 5 requests of each route, then for --noise-sample-rate of them
(default: the feature's parity.noise_sample_rate, the shadow rule: proxy/parity/sampling.py), and fields
that differ legacy-vs-legacy (in that request, or by the store's Diffy rule so far) are noise. Only safe
methods (GET/HEAD/OPTIONS) are replayed unless --parity-writes: a write sent to both sides changes both
databases.
Every comparison is recorded in the parity store (--parity-store, default var/parity.db), so
`strangler parity report` shows the run, and each mismatch can be exported.
Logged-in mixes: each user logs in on the reference (the mix's `login:`); when the feature has
`identity: remote` and the candidate is the feature's own service, the user plays the façade's part — it asks
the reference's identity endpoint who it is and signs X-Strangler-Identity on every candidate request
(STRANGLER_IDENTITY_KEY: the environment, where `strangler parity run` puts this install's var/secrets.env
under the caller's own), so both sides see the same user.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import gevent
from locust import events
from locust.runners import WorkerRunner
from strangler_app.identity import (
    ENDPOINT,
    HEADER,
    KEY_ENV,
    REQUEST_HEADER,
    IdentityError,
    Principal,
    request_proof,
    sign,
)

from load import thresholds
from load.locust_base import LOGIN_LABEL, MixEntry, MixError, MixUser, require_loopback, required_file
from proxy.parity import NoiseTracker, RequestInfo, Response, compare_exchange, normaliser_for
from proxy.parity.sampling import NoiseSampler
from proxy.parity.store import open_store
from proxy.shadow.errors import ErrorLog, ShadowError, kind_of
from proxy.table import ParityConfig, TableError, load_table, parse_template

log = logging.getLogger("strangler.parity")
_STATE: dict[str, Any] = {}
FLUSH_EVERY_S = 0.5
IDENTITY_LABEL = "identity (who am I)"


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:

    parser.add_argument("--reference", env_var="STRANGLER_PARITY_REFERENCE", default="",
                       help="reference (legacy) base URL", include_in_web_ui=False)
    parser.add_argument("--feature", env_var="STRANGLER_PARITY_FEATURE", default="",
                       help="route-table feature: its parity rules and routes", include_in_web_ui=False)
    parser.add_argument("--routes", env_var="STRANGLER_ROUTES_FILE", default="",
                       help="route table file, needed with --feature (`strangler parity run` passes the project's)",
                       include_in_web_ui=False)
    parser.add_argument("--parity-store", env_var="STRANGLER_PARITY_STORE", default="",
                       help="SQLite parity store (default var/parity.db)", include_in_web_ui=False)
    parser.add_argument("--noise-sample-rate", env_var="STRANGLER_PARITY_NOISE_RATE", default="",
                       help="fraction of requests also sent to the reference twice, after the first 5 of each "
                            "route (default: the feature's parity.noise_sample_rate)", include_in_web_ui=False)
    parser.add_argument("--parity-writes", action="store_true", env_var="STRANGLER_PARITY_WRITES", default=False,
                       help="also replay non-safe methods on both sides", include_in_web_ui=False)


def _setup(environment: Any) -> dict[str, Any]:
    """Once per process: the rules, the store and the noise tracker."""
    if _STATE:
        return _STATE
    options = environment.parsed_options
    if not options.reference:
        raise MixError("no reference URL. Fix: pass --reference http://127.0.0.1:PORT (the legacy side)")
    config, routes, identity_target = ParityConfig(), None, None
    if options.feature:
        try:
            table = load_table(Path(required_file(options.routes, "--routes", "STRANGLER_ROUTES_FILE")))
        except (TableError, OSError) as exc:
            raise MixError(f"cannot read the route table for --feature: {exc}") from None
        if options.feature not in table.features:
            raise MixError(f"unknown feature {options.feature!r}. Fix: use one of {', '.join(table.features)}")
        feature = table.features[options.feature]
        config, routes = feature.parity, feature.routes
        if feature.identity.mode == "remote" and feature.target in table.upstreams:
            identity_target = _origin(table.upstreams[feature.target].url)
    store_path = options.parity_store or None
    _STATE.update(reference=require_loopback(options.reference, "reference URL"),
                  feature=options.feature or "adhoc", normaliser=normaliser_for(config), routes=routes,
                  tracker=NoiseTracker(), store=open_store(store_path, background=False), reported=set(),
                  errors=ErrorLog(),
                  noise=NoiseSampler(), noise_rate=_noise_rate(options.noise_sample_rate, config),
                  writes=options.parity_writes,
                  identity_target=identity_target)
    _STATE["flusher"] = gevent.spawn(_flush_every, _STATE["store"], FLUSH_EVERY_S)
    return _STATE


def _noise_rate(given: str | float, config: ParityConfig) -> float:
    """--noise-sample-rate when given (clamped to 0..1), else the feature's parity.noise_sample_rate."""
    if given in ("", None):
        return config.noise_sample_rate
    try:
        return max(0.0, min(1.0, float(given)))
    except ValueError:
        raise MixError(f"--noise-sample-rate {given!r} is not a number. Fix: pass a fraction from 0 to 1") from None


def rates(stats: Any) -> str:
    """Comparisons per second and, beside them, the reference's (the monolith's) own requests per second."""
    seconds = max(stats.total.last_request_timestamp - stats.total.start_time, 1e-9) if stats.total.num_requests \
        else 0.0
    compared = reference = 0
    for (name, _method), entry in stats.entries.items():
        if name.startswith(thresholds.REFERENCE_PREFIX):
            reference += entry.num_requests
        elif name not in (LOGIN_LABEL, IDENTITY_LABEL):
            compared += entry.num_requests
    if not seconds:
        return "parity: no comparison made"
    return (f"parity: {compared} comparisons in {seconds:.1f} s ({compared / seconds:.1f}/s); the reference "
            f"answered {reference} requests ({reference / seconds:.1f} req/s)")


def _flush_every(store: Any, seconds: float) -> None:
    """The store's batches written from a greenlet of Locust's own loop. The store's writer thread (a greenlet
    too, under Locust's monkey patching) never answered close()'s join at quitting: every parity run waited
    its 10 s timeout before exiting."""
    while True:
        gevent.sleep(seconds)
        try:
            store.flush()
        except Exception as exc:  # noqa: BLE001 - the store re-queued the batch; a full disk must not end the run
            log.warning("parity store: cannot write comparisons yet (%s); retrying", exc)


def _origin(url: str) -> tuple[str, int | None]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def _identity_key() -> str:
    key = os.environ.get(KEY_ENV, "")  # `strangler parity run` passes the install's saved one when not set
    if not key:
        raise MixError(f"the feature has identity: remote and the candidate is its service, so the run signs "
                       f"the caller's identity, but {KEY_ENV} is not set (nor in var/secrets.env). Fix: export "
                       f"{KEY_ENV} (the value the façade and the service share), or compare through the façade")
    return key


@events.quitting.add_listener
def _close_store(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if _STATE and runner is not None and not isinstance(runner, WorkerRunner):
        log.info("%s", rates(environment.stats))
    store = _STATE.get("store")
    if store is not None:
        _STATE["flusher"].kill()
        store.close()  # the last batch


class ParityUser(MixUser):
    principal: Principal | None = None  # set after the login when the candidate needs a signed identity

    @classmethod
    def select(cls, entries: list[MixEntry], environment: Any) -> list[MixEntry]:
        state = _setup(environment)
        kept = [e for e in entries if (e.safe or state["writes"]) and _claimed(e, state["routes"])]
        if not kept:
            raise MixError(f"no request of the mix is compared for feature {state['feature']!r} (only safe methods"
                           " unless --parity-writes, and only the feature's routes). Fix: choose another "
                           "--mix-name or --feature")
        return kept

    def login_base(self) -> str:
        return _setup(self.environment)["reference"]  # the monolith owns the login and the session

    def after_login(self) -> None:
        """Ask the reference who this session is (as the façade does) when the candidate needs it signed."""
        state = _setup(self.environment)
        if state["identity_target"] is None or _origin(self.host or "") != state["identity_target"]:
            return
        self.identity_key = _identity_key()
        with self.client.post(state["reference"] + ENDPOINT, name=IDENTITY_LABEL, catch_response=True,
                              headers={REQUEST_HEADER: request_proof(self.identity_key)}) as resp:
            try:
                self.principal = Principal.from_json(resp.json()) if resp.status_code == 200 else None
            except (ValueError, IdentityError):
                self.principal = None
            if self.principal is None:
                resp.failure(f"identity endpoint answered {resp.status_code}: the candidate sees an anonymous caller")
            else:
                resp.success()

    def _candidate_headers(self, entry: MixEntry, path: str) -> dict[str, str]:
        if self.principal is None:
            return entry.headers
        return {**entry.headers, HEADER: sign(self.identity_key, self.principal, method=entry.method, path=path)}

    def play(self, entry: MixEntry) -> None:
        """One comparison. The reference (twice for a noise sample) and the candidate are asked at the same
        time, as Diffy multicasts: a comparison takes as long as its slowest side, not the sum of three
        answers, so the same users compare ~3x as many requests per second (issue 21)."""
        state = _setup(self.environment)
        path, body = entry.render(self.rng, self.user_values if entry.login else None)
        name = thresholds.REFERENCE_PREFIX + entry.label
        asked = [gevent.spawn(self._ask, state["reference"] + path, entry, body, name)]
        if entry.safe and state["noise"].wanted(entry.route, state["noise_rate"]):
            asked.append(gevent.spawn(self._ask, state["reference"] + path, entry, body, name))
        with self.client.request(entry.method, path, name=entry.label, json=body,
                                 headers=self._candidate_headers(entry, path), catch_response=True) as resp:
            gevent.joinall(asked, raise_error=True)
            reference, again = asked[0].value, asked[1].value if len(asked) > 1 else None
            if reference is None:
                again = None
            candidate = Response.of(resp.status_code, resp.headers.items(), resp.content or b"")
            sent = resp.request.headers.items() if resp.request is not None else ()
            elapsed = resp.elapsed.total_seconds() * 1000 if resp.status_code else resp.request_meta["response_time"]
            result = compare_exchange(
                state["normaliser"], feature=state["feature"], route=entry.route,
                request=RequestInfo.of(entry.method, path, sent, resp.request.body if resp.request else b""),
                reference=reference, candidate=candidate, reference_again=again,
                error=None if resp.status_code else f"no answer: {resp.error}",
                latency_ms=elapsed,
                reference_url=state["reference"], candidate_url=(self.host or "").rstrip("/"))
            if result.is_error:  # its kind, upstream and elapsed time, as the shadow engine says it
                failure = (ShadowError.no_answer(kind_of(resp.error), self.host or "", result.latency_ms or 0.0,
                                                 f"{type(resp.error).__name__}: {resp.error}") if not resp.status_code
                           else ShadowError.server_error(self.host or "", result.latency_ms or 0.0,
                                                         reference.status if reference else None, resp.status_code))
                result.cause = failure.classified()
                state["errors"].record(state["feature"], entry.method, entry.route, failure)
            state["tracker"].observe(result)
            state["store"].record(result)
            real = state["tracker"].real_differences(result) if reference is not None else []
            if real:
                names = sorted({d.field for d in real})
                more = f" +{len(names) - 3} more" if len(names) > 3 else ""
                resp.failure(f"{thresholds.PARITY_ERROR}: {', '.join(names[:3])}{more}")
                self._report_once(entry, path, real)
            elif reference is None:
                resp.failure("reference did not answer; nothing to compare")
            elif not entry.accepts(resp.status_code):
                resp.failure(f"unexpected status {resp.status_code}")
            else:
                resp.success()

    def _ask(self, url: str, entry: MixEntry, body: Any, name: str) -> Response | None:
        with self.client.request(entry.method, url, name=name, json=body, headers=entry.headers,
                                 catch_response=True) as resp:
            if not resp.status_code:
                resp.failure(f"no answer: {resp.error}")
                return None
            if entry.accepts(resp.status_code):
                resp.success()
            else:
                resp.failure(f"unexpected status {resp.status_code}")
            return Response.of(resp.status_code, resp.headers.items(), resp.content or b"")

    @staticmethod
    def _report_once(entry: MixEntry, path: str, real: list) -> None:
        reported = _STATE["reported"]
        for diff in real:
            if (entry.route, diff.field) in reported:
                continue
            reported.add((entry.route, diff.field))
            log.error("parity mismatch on %s %s: %s %s — reference %r, candidate %r (pid %s)", entry.method, path,
                      diff.kind, diff.path, diff.reference, diff.candidate, os.getpid())


def _claimed(entry: MixEntry, routes: list | None) -> bool:
    """True when no feature was given, or the feature's route table claims this method + path template."""
    if routes is None:
        return True
    try:
        shape = parse_template(entry.route).shape
    except ValueError:
        return False
    return any(r.template.shape == shape and (entry.method in r.methods or "*" in r.methods) for r in routes)
