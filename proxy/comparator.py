"""Out-of-band comparator for the nginx data plane: nginx `mirror`s shadowed requests here, we compare.

nginx serves the client from legacy and fires a mirror subrequest (same method, raw URI and — for dry-run
targets — body) with `X-Strangler-Mirror-Feature`; nginx never waits on our answer in the client's path,
and we answer 202 at once and do the work in a background task. For a safe method (GET/HEAD) we ask legacy
ourselves for the reference (nginx cannot hand us the answer it served), Diffy-style a second time for the
noise sample (proxy/parity/sampling.py, as in the façade), and the target for the candidate; then compare
with the shared normaliser + noise tracker and record in the same parity store, so `strangler parity
report` covers the nginx era. Writes are never repeated against legacy (DESIGN §3): a write goes only to a
`dry_run_writes` target that proved it rolls them back (proxy/shadow/safety.py), signed
(strangler_app.protocol, STRANGLER_SHADOW_KEY); with no reference to compare it is counted (`/stats`), not
recorded as a comparison. Bounded: `parity.sample_rate` and `max_in_flight` per feature plus a global cap;
excess is dropped and counted, never queued. The copy, noise sample, comparison and store write are the
same Engine (proxy/shadow/engine.py) the façade's shadow worker runs: one engine.

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

from strangler_app.protocol import KEY_ENV

from proxy.common.asgi import read_body
from proxy.matcher import Matcher
from proxy.parity import ParityStore
from proxy.parity.sampling import NoiseSampler
from proxy.parity.store import configured_store
from proxy.shadow.engine import SAFE_METHODS, Engine, Job
from proxy.shadow.safety import ledger_unsafe
from proxy.table import RouteTable, TableError, load_table

log = logging.getLogger("strangler.comparator")
FEATURE_HEADER = "x-strangler-mirror-feature"


class _Table:
    """The route table, re-read when the file changes (a flip); the last good table keeps serving."""

    def __init__(self, path: Path):
        self.path = path
        st = path.stat()  # before the read: a change during it is seen by the next refresh
        self._sig = (st.st_mtime_ns, st.st_size)
        self.table = load_table(path)  # the first read must succeed: there is no last good table yet
        self.matcher = Matcher(self.table)

    def refresh(self) -> RouteTable:
        try:
            st = self.path.stat()
            sig = (st.st_mtime_ns, st.st_size)
            if sig != self._sig:
                table = load_table(self.path)
                self.table, self.matcher, self._sig = table, Matcher(table), sig
        except (OSError, TableError) as exc:
            log.error("route table not reloaded, keeping the last good one: %s", exc)
        return self.table


class Comparator:
    """ASGI app. `stats` counts outcomes by kind (compared, dropped:<reason>, write_dry_run:<status>...)."""

    def __init__(self, routes: Path, store: ParityStore, *, max_in_flight: int = 64, key: str | None = None,
                 rng: random.Random | None = None):
        self.tables = _Table(routes)
        self.store = store
        self.key = os.environ.get(KEY_ENV, "") if key is None else key
        self.engine = Engine(store, self.key, self._event)
        self.max_in_flight = max_in_flight
        self.in_flight: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.tasks: set[asyncio.Task] = set()
        self.rng = rng or random.Random()
        self.noise = NoiseSampler(self.rng)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await read_body(receive)
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
        match = self.tables.matcher.match(method, path) if self.tables.matcher is not None else None
        if feat is None or match is None or match.feature != feature:
            return self._drop("unknown_route")
        if method not in SAFE_METHODS and not (table.upstreams[feat.target].dry_run_writes and self.key):
            return self._drop("write_not_dry_runnable")
        if feat.parity.sample_rate < 1 and self.rng.random() >= feat.parity.sample_rate:
            return self._drop("sampled_out")
        if (self.in_flight[feature] >= feat.parity.max_in_flight
                or sum(self.in_flight.values()) >= self.max_in_flight):
            return self._drop("in_flight_cap")
        self.in_flight[feature] += 1
        noise = method in SAFE_METHODS and self.noise.wanted((feature, match.route.path),
                                                             feat.parity.noise_sample_rate)
        job = Job(feature, match.route.path, method, path, tuple(headers), body, feat.target, None, noise)
        task = asyncio.get_running_loop().create_task(self._exchange(table, job))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return "accepted"

    def _drop(self, reason: str) -> str:
        self.stats["dropped:" + reason] += 1
        return "dropped:" + reason

    def _event(self, event: tuple) -> None:
        kind = event[0]
        if kind == "compared":
            self.stats[event[2]] += 1
        elif kind == "drop":
            self.stats["dropped:" + event[2]] += 1
        elif kind == "dry_run":
            self.stats["write_dry_run:" + event[2]] += 1
        elif kind == "unsafe":  # a dry-run target answered without acknowledging: ledger it (once per target)
            task = asyncio.get_running_loop().create_task(asyncio.to_thread(
                ledger_unsafe, self.tables.refresh(), *event[1:5], actor="comparator"))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _exchange(self, table: RouteTable, job: Job) -> None:
        try:
            await self.engine.run(job, table, None)  # never raises; nginx served legacy: we ask it ourselves
        finally:
            self.in_flight[job.feature] -= 1

    async def _lifespan(self, receive, send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                for task in list(self.tasks):
                    task.cancel()
                await asyncio.gather(*self.tasks, return_exceptions=True)
                await self.engine.aclose()
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

    from proxy.net import is_loopback

    p = argparse.ArgumentParser(prog="python -m proxy.comparator", description=__doc__.split("\n")[0])
    p.add_argument("--routes", type=Path, required=True, help="the same route table nginx was exported from")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--db", default=None, help="parity store, a file or a PostgreSQL URL (default: the configured one)")
    p.add_argument("--max-in-flight", type=int, default=64)
    args = p.parse_args(argv)
    if not is_loopback(args.host):
        p.error(f"--host {args.host!r} is not loopback; the comparator only listens on loopback")
    try:
        app = Comparator(args.routes, configured_store(args.db), max_in_flight=args.max_in_flight)
    except (OSError, TableError) as exc:
        p.error(str(exc))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
