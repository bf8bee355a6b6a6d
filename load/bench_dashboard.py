"""The dashboard's history: how fast its data endpoint answers with a full store, and what writing it costs.

Run: python -m load.bench_dashboard [--features 50] [--requests 300] [--rounds 10] [--seconds 3]
                                    [--connections 16] [--json FILE]
1. Data endpoint p95: a history store seeded with 7 days of 1-, 5- and 30-minute buckets and 6 hours of
   10-second buckets for --features features x 3 sides (plus ledger flips), a real façade (mitmdump) on it, then
   --requests
   sequential GETs of /dashboard/api/history for a random feature and range (1h, 6h, 24h, 7d) and of /ui/data
   (the live document), timed at the client (and inside the façade: the endpoint's Server-Timing header).
   Target: p95 <= 50 ms.
2. Writing cost: two façades on the same 50-feature table, one with history writing on (the default), one with
   `--set strangler_history=false`, measured by wrk in paired rounds, the order alternating; each round gives a
   ratio on/off of req/s and of CPU time per request (from /proc). Printed: the median ratio and its
   distribution-free 95 % interval (load/stats.py). Target: req/s >= 0.98x. A 2 % difference is below the
   round-to-round noise of a shared 2-core machine, so the verdict is often "inconclusive"; the tick's own cost
   (3.) is the repeatable figure.
3. One tick in-process: reading the counters and writing 50 features' buckets, median wall time -> the share of
   one core it takes every 10 s.
Prints and writes figures only; never asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from load import figures
from load.bench_facade import BIN, COMMON, ROOT, cpu_seconds, wrk
from load.stats import Interval, median_interval, paired_ratios
from strangler.procs import free_port, running

P95_TARGET_MS, COST_TARGET = 50.0, 0.98
RANGES = ("1h", "6h", "24h", "7d")


def write_table(path: Path, backend: int, features: int) -> str:
    """`features` features of 2 routes each, all in state `new` on the backend; a path of feature0."""
    doc = {"upstreams": {"legacy": {"url": f"http://127.0.0.1:{backend}"},
                         "svc": {"url": f"http://127.0.0.1:{backend}/"}},
           "default": "legacy",
           "features": {f"feature{i}": {"target": "svc", "state": "new" if i % 2 else "canary",
                                        **({} if i % 2 else {"canary_percent": 50}),
                                        "routes": [{"methods": ["GET"], "path": f"/api/f{i}/{{id}}"},
                                                   {"methods": ["GET"], "path": f"/api/f{i}"}]}
                        for i in range(features)}}
    path.write_text(json.dumps(doc, indent=1))
    return "/api/f0/42"


def seed(var: Path, features: int, now: int) -> int:
    """7 days of minutes and 5-/30-min rollups + 6 hours of 10-s buckets per feature and side, and 4 flips per
    feature; rows written."""
    from proxy.history import BOUNDS, COARSE_S, INTERVAL_S, KEEP_S, ROLLUPS_S, Bucket, open_history
    from proxy.ledger import append_record

    rng = random.Random(7)
    store = open_history(var / "history.db")
    lat = [rng.choice((0.003, 0.008, 0.02, 0.2)) for _ in range(64)]

    def bucket(feature: str, side: str, ts: int, scale: int) -> Bucket:
        n = rng.randint(0, 20) * scale
        cut = lat[ts // 60 % 64]
        hist = tuple(n if b >= cut else n // 3 for b in BOUNDS)
        if side == "shadow":
            return Bucket(feature, side, ts, compared=n, equal=n - n // 50, copies=n, copy_errors=n // 100)
        return Bucket(feature, side, ts, requests=n, e4xx=n // 40, e5xx=n // 90, hist=hist, canary=50.0)

    rows = 0
    for res, scale in ((ROLLUPS_S[1], 180), (ROLLUPS_S[0], 30), (COARSE_S, 6), (INTERVAL_S, 1)):
        start = now - KEEP_S[res]
        for i in range(features):
            batch = [bucket(f"feature{i}", side, ts, scale) for ts in range(start - start % res, now, res)
                     for side in ("legacy", "target", "shadow")]
            store.write_rows(res, batch)
            rows += len(batch)
    for i in range(features):
        for k, (frm, to) in enumerate((("legacy", "shadow"), ("shadow", "canary"), ("canary", "new"),
                                       ("new", "canary"))):
            at = now - 6 * 86400 + k * 40_000 + i * 60
            append_record(var / "ledger.jsonl", {"ts": _stamp(at), "actor": "auto-rollback" if k == 3 else "bench",
                                                 "feature": f"feature{i}", "from_state": frm, "to_state": to,
                                                 "reason": "seeded by load/bench_dashboard"})
    store.close()
    return rows


def _stamp(at: float) -> str:
    from proxy.common.clock import stamp

    return stamp(at)


def facade_argv(backend: int, port: int, admin: int, routes: Path, history: bool) -> list[str]:
    return [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{backend}@127.0.0.1:{port}", *COMMON,
            "--set", "keep_host_header=true", "-s", str(ROOT / "proxy" / "facade.py"),
            "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin}",
            "--set", f"strangler_history={'true' if history else 'false'}"]


def endpoint_latency(admin: int, token: str, features: int, requests: int) -> dict[str, list[float]]:
    rng = random.Random(11)
    out: dict[str, list[float]] = {name: [] for name in (*RANGES, "/ui/data", "server")}
    with httpx.Client(base_url=f"http://127.0.0.1:{admin}", headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        for name in (*RANGES, "/ui/data"):  # warm-up: first connection, first SQLite page reads
            client.get("/ui/data" if name == "/ui/data" else f"/dashboard/api/history?range={name}")
        for i in range(requests):
            name = "/ui/data" if i % 5 == 4 else rng.choice(RANGES)
            url = "/ui/data" if name == "/ui/data" else \
                f"/dashboard/api/history?feature=feature{rng.randrange(features)}&range={name}"
            began = time.perf_counter()
            r = client.get(url)
            out[name].append((time.perf_counter() - began) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"GET {url} answered {r.status_code}: {r.text[:300]}")
            timing = re.search(r"history;dur=([\d.]+)", r.headers.get("server-timing", ""))
            if timing:
                out["server"].append(float(timing.group(1)))
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def cost_rounds(args: argparse.Namespace, tmp: Path, backend: int, env: dict[str, str]) -> dict[str, Interval]:
    path = write_table(tmp / "cost-routes.yaml", backend, args.features)
    arms: dict[str, list[dict]] = {"on": [], "off": []}
    with ExitStack() as stack:
        pids, urls = {}, {}
        for arm in arms:
            port, admin = free_port(), free_port()
            arm_env = {**env, "STRANGLER_VAR_DIR": str(tmp / f"var-{arm}")}
            proc = stack.enter_context(running(facade_argv(backend, port, admin, tmp / "cost-routes.yaml",
                                                           arm == "on"), env=arm_env, cwd=ROOT,
                                               health_url=f"http://127.0.0.1:{admin}/healthz",
                                               log_path=tmp / f"facade-{arm}.log", timeout=60))
            pids[arm], urls[arm] = proc.pid, f"http://127.0.0.1:{port}{path}"
        for url in urls.values():
            wrk(url, 1, args.connections)
        for r in range(args.rounds):
            for arm in (("on", "off") if r % 2 == 0 else ("off", "on")):
                before = cpu_seconds(pids[arm])
                res = wrk(urls[arm], args.seconds, args.connections)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[arm]) - before) / max(1.0, res["rps"] * args.seconds)
                arms[arm].append(res)
                print(f"round {r + 1:2d} history {arm:3s} {res['rps']:8.0f} req/s  cpu {res['cpu_us']:.0f} us/req "
                      f"non-2xx {res['non2xx']}", flush=True)
        written = (tmp / "var-on" / "history.db").exists()
    on, off = arms["on"], arms["off"]
    if not written:
        raise RuntimeError("the 'on' façade wrote no history.db: the comparison would measure nothing")
    return {"rps": median_interval(paired_ratios([x["rps"] for x in on], [x["rps"] for x in off])),
            "cpu": median_interval(paired_ratios([x["cpu_us"] for x in on], [x["cpu_us"] for x in off])),
            "off_rps": median_interval([x["rps"] for x in off])}


def tick_cost(tmp: Path, features: int, ticks: int = 30) -> float:
    """Median milliseconds of one HistoryRecorder tick (counters of `features` features with traffic)."""
    from proxy.addons.state import FacadeState
    from proxy.history import INTERVAL_S, open_history
    from proxy.history.recorder import HistoryRecorder
    from proxy.stores import open_table_store

    write_table(tmp / "tick-routes.yaml", 1, features)
    state = FacadeState()
    state.store = open_table_store(tmp / "tick-routes.yaml")
    state.current = _snapshot(state.store)
    recorder = HistoryRecorder(state)
    recorder.store = open_history(tmp / "tick" / "history.db")
    took = []
    ts = int(time.time()) // INTERVAL_S * INTERVAL_S
    for k in range(ticks):
        for i in range(features):
            for up in ("legacy", "svc"):
                state.metrics.observe(f"feature{i}", up, "canary", 200, 0.004)
        began = time.perf_counter()
        recorder.tick(ts + k * INTERVAL_S)
        took.append((time.perf_counter() - began) * 1000)
    return statistics.median(took)


def _snapshot(store):
    from proxy.addons.snapshot import compile_snapshot

    table = store.load()
    return compile_snapshot(table, store.read().digest, None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--requests", type=int, default=300, help="timed data-endpoint requests")
    ap.add_argument("--rounds", type=int, default=10, help="paired rounds history on/off (>= 6 for an interval)")
    ap.add_argument("--seconds", type=int, default=3, help="wrk seconds per arm and round")
    ap.add_argument("--connections", type=int, default=16)
    figures.add_json_option(ap)
    args = ap.parse_args()
    figures.keep_bounded(ap, args, features=(1, 500), requests=(20, 10_000), rounds=(1, 50), seconds=(1, 60),
                         connections=(1, 256))
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed. Fix: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    token = os.urandom(16).hex()
    env = {"STRANGLER_ADMIN_TOKEN": token}
    backend = free_port()
    load_before = os.getloadavg()
    with running([str(BIN / "uvicorn"), "load.bench_facade:backend_app", "--port", str(backend),
                  "--log-level", "warning", "--no-access-log"], cwd=ROOT,
                 health_url=f"http://127.0.0.1:{backend}/", log_path=tmp / "backend.log"):
        var = tmp / "var"
        var.mkdir()
        began = time.perf_counter()
        rows = seed(var, args.features, int(time.time()))
        size_mb = (var / "history.db").stat().st_size / 1e6
        print(f"seeded {rows} buckets ({size_mb:.0f} MB) for {args.features} features in "
              f"{time.perf_counter() - began:.0f} s", flush=True)
        write_table(tmp / "routes.yaml", backend, args.features)
        port, admin = free_port(), free_port()
        with running(facade_argv(backend, port, admin, tmp / "routes.yaml", True), cwd=ROOT,
                     env={**env, "STRANGLER_VAR_DIR": str(var)}, health_url=f"http://127.0.0.1:{admin}/healthz",
                     log_path=tmp / "facade-read.log", timeout=60):
            lat = endpoint_latency(admin, token, args.features, args.requests)
        cost = cost_rounds(args, tmp, backend, env)
    tick_ms = tick_cost(tmp, args.features)
    history_all = [x for r in RANGES for x in lat[r]]
    print(f"\n{args.features} features x 3 sides, 7 days of 1/5/30-min + 6 h of 10-s buckets ({rows} rows, "
          f"{size_mb:.0f} MB SQLite); {os.cpu_count()} CPU cores shared with everything else (load average "
          f"{' '.join(f'{x:.2f}' for x in load_before)} before, {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "after):")
    for name in (*RANGES, "/ui/data"):
        print(f"  {name:>8}: p50 {statistics.median(lat[name]):6.1f} ms  p95 {p95(lat[name]):6.1f} ms  "
              f"(n={len(lat[name])})")
    print(f"  history endpoint, all ranges: p95 {p95(history_all):.1f} ms (target <= {P95_TARGET_MS:g} ms); "
          f"in the façade (Server-Timing: thread hop, store read, JSON): p50 {statistics.median(lat['server']):.1f} "
          f"ms, p95 {p95(lat['server']):.1f} ms")
    rps, cpu = cost["rps"], cost["cpu"]
    print(f"  req/s history on / off = {rps.text()}: {rps.verdict(COST_TARGET).upper()} (target >= {COST_TARGET}x;"
          f" off: median {cost['off_rps'].median:.0f} req/s)")
    print(f"  CPU per request on / off = {cpu.text()}")
    print(f"  one tick ({args.features} features): median {tick_ms:.1f} ms every 10 s = "
          f"{tick_ms / 100:.2f} % of one core")
    out = [figures.bounded("history endpoint p95 (7 d x 50 features, all ranges)", p95(history_all), "ms",
                           P95_TARGET_MS, higher_is_better=False, digits=1),
           figures.bounded("history endpoint p95, range 7d", p95(lat["7d"]), "ms", P95_TARGET_MS,
                           higher_is_better=False, digits=1),
           figures.figure("history endpoint p95 inside the façade (Server-Timing)", round(p95(lat["server"]), 1),
                          "ms"),
           figures.bounded("/ui/data p95 (50 features)", p95(lat["/ui/data"]), "ms", P95_TARGET_MS,
                           higher_is_better=False, digits=1),
           figures.figure("req/s history on / off (median of paired rounds)", round(rps.median, 3), "x",
                          f">= {COST_TARGET}x", rps.verdict(COST_TARGET), rps),
           figures.figure("CPU per request history on / off", round(cpu.median, 3), "x", "", "info", cpu),
           figures.figure("history tick, 50 features (median)", round(tick_ms, 2), "ms per 10 s")]
    figures.write(args.json, "bench_dashboard", out)


if __name__ == "__main__":
    main()
