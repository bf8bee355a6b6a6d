"""Out-of-band comparator for the nginx data plane: nginx `mirror`s shadowed requests here, we compare.

nginx serves the client from legacy and fires a mirror subrequest (same method, raw URI and — for dry-run
targets — body) with `X-Strangler-Mirror-Feature`; nginx never waits on our answer in the client's path,
and we answer 202 at once and do the work in a background task. For a safe method (GET/HEAD) we ask legacy
ourselves for the reference (nginx cannot hand us the answer it served), Diffy-style a second time for the
noise sample (`parity.noise_sample_rate`, as in the façade), and the target for the candidate; then compare
with the shared normaliser + noise tracker and record in the same parity store, so `strangler parity
report` covers the nginx era. Writes are never repeated against legacy (DESIGN §3): a write goes only to a
`dry_run_writes` target, signed (proxy/signing.py, STRANGLER_SHADOW_KEY); with no reference to compare it
is counted (`/stats`), not recorded as a comparison. Bounded: `parity.sample_rate` and `max_in_flight` per
feature plus a global cap; excess is dropped and counted, never queued.

Run: python -m proxy.comparator --routes config/routes.yaml --port 8091 [--db var/parity.db]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
from collections import Counter
from pathlib import Path

from proxy import signing
from proxy.matcher import Matcher
from proxy.parity import (
    NoiseTracker,
    ParityStore,
    RequestInfo,
    compare_exchange,
    default_store_path,
    normaliser_for,
)
from proxy.shadow.clients import UpstreamClients, copy_headers
from proxy.table import RouteTable, TableError, load_table

log = logging.getLogger("strangler.comparator")
FEATURE_HEADER = "x-strangler-mirror-feature"
KEY_ENV = "STRANGLER_SHADOW_KEY"
SAFE = frozenset({"GET", "HEAD"})
_DROP = frozenset({FEATURE_HEADER, signing.HEADER.lower()})
_STORED_DROP = frozenset({"authorization", "cookie", "proxy-authorization"})


class _Table:
    """The route table, re-read when the file changes (a flip); the last good table keeps serving."""

    def __init__(self, path: Path):
        self.path, self._sig, self.table, self.matcher = path, None, None, None
        self.refresh()

    def refresh(self) -> RouteTable:
        try:
            st = self.path.stat()
            sig = (st.st_mtime_ns, st.st_size)
            if sig != self._sig:
                table = load_table(self.path)
                self.table, self.matcher, self._sig = table, Matcher(table), sig
        except (OSError, TableError) as exc:
            if self.table is None:
                raise
            log.error("route table not reloaded, keeping the last good one: %s", exc)
        return self.table


class Comparator:
    """ASGI app. `stats` counts outcomes by kind (compared, dropped:<reason>, write_dry_run:<status>...)."""

    def __init__(self, routes: Path, store: ParityStore, *, max_in_flight: int = 64, key: str | None = None,
                 rng: random.Random | None = None):
        self.tables = _Table(routes)
        self.store = store
        self.clients = UpstreamClients()
        self.noise = NoiseTracker()
        self.key = os.environ.get(KEY_ENV, "") if key is None else key
        self.max_in_flight = max_in_flight
        self.in_flight: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.tasks: set[asyncio.Task] = set()
        self.rng = rng or random.Random()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        feature = next((v for k, v in headers if k.lower() == FEATURE_HEADER), None)
        if feature is None and scope["path"] in ("/healthz", "/stats"):
            payload = {"status": "ok"} if scope["path"] == "/healthz" else {
                "stats": dict(self.stats), "in_flight": sum(self.in_flight.values())}
            await _answer(send, 200, payload)
            return
        if feature is None:
            await _answer(send, 400, {"error": "not_a_mirror", "message": f"missing {FEATURE_HEADER} header"})
            return
        path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        status = self._accept(feature, scope["method"].upper(), path, headers, body)
        await _answer(send, 202, {"status": status})

    def _accept(self, feature: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes) -> str:
        table = self.tables.refresh()
        feat = table.features.get(feature)
        match = self.tables.matcher.match(method, path)
        if feat is None or match is None or match.feature != feature:
            return self._drop("unknown_route")
        if method not in SAFE and not (table.upstreams[feat.target].dry_run_writes and self.key):
            return self._drop("write_not_dry_runnable")
        if feat.parity.sample_rate < 1 and self.rng.random() >= feat.parity.sample_rate:
            return self._drop("sampled_out")
        if (self.in_flight[feature] >= feat.parity.max_in_flight
                or sum(self.in_flight.values()) >= self.max_in_flight):
            return self._drop("in_flight_cap")
        self.in_flight[feature] += 1
        task = asyncio.get_running_loop().create_task(
            self._exchange(table, feature, match.route.path, method, path, copy_headers(headers, _DROP), body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return "accepted"

    def _drop(self, reason: str) -> str:
        self.stats["dropped:" + reason] += 1
        return "dropped:" + reason

    async def _exchange(self, table: RouteTable, feature: str, route: str, method: str, path: str,
                        headers: list[tuple[str, str]], body: bytes) -> None:
        try:
            feat = table.features[feature]
            legacy, target = table.upstreams[table.default], table.upstreams[feat.target]
            cand_req = self.clients.build(target, method, path, list(headers), body)
            if method not in SAFE:
                cand_req.headers[signing.HEADER] = signing.sign(self.key, method, cand_req.url.raw_path.decode(
                    "ascii"), body)
                outcome = await self.clients.send(target, cand_req)
                status = outcome.error_kind or str(outcome.response.status)
                self.stats["write_dry_run:" + status] += 1
                return
            noise = self.rng.random() < feat.parity.noise_sample_rate
            jobs = [self.clients.send(legacy, self.clients.build(legacy, method, path, list(headers), body)),
                    self.clients.send(target, cand_req)]
            if noise:
                jobs.append(self.clients.send(legacy, self.clients.build(legacy, method, path, list(headers), body)))
            outcomes = await asyncio.gather(*jobs)
            ref, cand = outcomes[0], outcomes[1]
            if ref.response is None:
                self.stats["dropped:reference_failed"] += 1
                return
            stored = [(k, v) for k, v in headers if k.lower() not in _STORED_DROP]
            result = compare_exchange(
                normaliser_for(feat.parity), feature=feature, route=route,
                request=RequestInfo.of(method, path, stored, body), reference=ref.response,
                candidate=cand.response, reference_again=outcomes[2].response if noise else None,
                error=cand.error, latency_ms=cand.latency_ms, reference_url=legacy.url, candidate_url=target.url)
            self.noise.observe(result)
            real = [] if result.is_error else self.noise.real_differences(result)
            self.stats["error" if result.is_error else ("diff" if real else "match")] += 1
            self.store.record(result)
        except Exception:  # a comparator bug must never take the comparator down
            log.exception("comparison failed for %s %s", method, path)
            self.stats["dropped:internal_error"] += 1
        finally:
            self.in_flight[feature] -= 1

    async def _lifespan(self, receive, send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                for task in list(self.tasks):
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
                await self.clients.aclose()
                await asyncio.to_thread(self.store.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send, status: int, payload: dict) -> None:
    data = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from strangler.procs import is_loopback

    p = argparse.ArgumentParser(prog="python -m proxy.comparator", description=__doc__.split("\n")[0])
    p.add_argument("--routes", type=Path, required=True, help="the same route table nginx was exported from")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--db", type=Path, default=None, help="parity store (default: STRANGLER_VAR_DIR/parity.db)")
    p.add_argument("--max-in-flight", type=int, default=64)
    args = p.parse_args(argv)
    if not is_loopback(args.host):
        p.error(f"--host {args.host!r} is not loopback; the comparator only listens on loopback")
    try:
        app = Comparator(args.routes, ParityStore(args.db or default_store_path()), max_in_flight=args.max_in_flight)
    except (OSError, TableError) as exc:
        p.error(str(exc))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
