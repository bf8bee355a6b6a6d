"""Benchmark: the legacy orders reads on the monolith vs the same calls on the orders service.

    .venv/bin/python -m load.bench_orders [--orders 2000] [--rounds 6] [--duration 3] [--connections 8]
                                          [--json FILE]

One run, same machine, same data: seeds the monolith, backfills the orders service (`strangler migrate backfill
orders`) and starts both (2 workers each, as config/stack.yaml runs them: load/demo_servers.py) on free
loopback ports. Two scenarios — get (`GET /api/orders/{id}`, a random id) and list
(`GET /api/orders?customer_id=`, a random customer) — measured in
interleaved rounds (monolith and service back to back, alternating order). Orders need a login: the monolith
gets its session cookie (POST /api/login), the service a signed X-Strangler-Identity header per request, as the
façade sends (bound to method + path and single-use, so wrk cannot replay it: the generator is Python threads,
the same for both arms). Prints req/s, p50 and p95 per arm (medians over the rounds) and the paired ratios
service/monolith with a 95 % interval (load/stats.py); targets: req/s >= 1.0x, p95 <= 1.0x ("inconclusive" when
the interval straddles the target). Generator and both servers share the cores: compare the ratios.
Bounded: rounds x 2 scenarios x 2 arms x duration seconds of load, then all stopped.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from strangler_app.identity import HEADER, Principal, sign

from load.demo_servers import monolith_argv, service_argv
from load.figures import add_json_option, service_vs_monolith, write
from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[1]
ARMS = ("monolith", "service")
CUSTOMERS = 100
PASSWORD_ENV = "LEGACY_SEED_PASSWORD"
METRICS = (("req/s", True), ("p50 ms", False), ("p95 ms", False))  # (name, higher is better)
TARGETS = {"req/s": 1.0, "p95 ms": 1.0}


def _paths(scenario: str, orders: int, rng: random.Random) -> str:
    if scenario == "get":
        return f"/api/orders/{rng.randint(1, orders)}"
    return f"/api/orders?customer_id={rng.randint(1, CUSTOMERS)}"


def load(base: str, scenario: str, orders: int, seconds: float, connections: int,
         auth: dict[str, Any]) -> dict[str, float]:
    """Closed loop: `connections` threads, each one request at a time, for `seconds`."""
    latencies: list[float] = []
    bad = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def user(n: int) -> None:
        rng, mine, errors = random.Random(n), [], 0
        with httpx.Client(base_url=base, cookies=auth.get("cookies"), timeout=10) as client:
            while (start := time.perf_counter()) < deadline:
                path = _paths(scenario, orders, rng)
                headers = {}
                if "key" in auth:
                    headers[HEADER] = sign(auth["key"], auth["principal"], method="GET", path=path.split("?")[0])
                try:
                    ok = client.get(path, headers=headers).status_code == 200
                except httpx.HTTPError:  # a timeout on a stalled machine: a failed answer, not a dead thread
                    ok = False
                mine.append(time.perf_counter() - start)
                errors += not ok
        with lock:
            latencies.extend(mine)
            bad[0] += errors

    threads = [threading.Thread(target=user, args=(n,)) for n in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 30)
    latencies.sort()
    done = len(latencies)
    return {"req/s": done / seconds, "p50 ms": 1000 * latencies[done // 2] if done else float("inf"),
            "p95 ms": 1000 * latencies[min(done - 1, int(done * 0.95))] if done else float("inf"),
            "non-200": float(bad[0])}


def summarise(results: dict[str, dict[str, list[dict[str, float]]]]) -> list[dict[str, object]]:
    """Print the medians and paired ratios per scenario and metric; return the headline figures."""
    return service_vs_monolith("orders", results, METRICS, TARGETS, "non-200")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6, choices=range(1, 41),
                        help="interleaved rounds (>= 6 for a 95 %% interval on the ratios)")
    parser.add_argument("--duration", type=int, default=3, choices=range(1, 61), help="seconds per round and arm")
    parser.add_argument("--connections", type=int, default=8, choices=range(1, 65))
    parser.add_argument("--workers", type=int, default=2, help="gunicorn / uvicorn workers each")
    add_json_option(parser)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    legacy_port, service_port = free_port(), free_port()
    urls = {"monolith": f"http://127.0.0.1:{legacy_port}", "service": f"http://127.0.0.1:{service_port}"}
    identity_key, password = os.urandom(24).hex(), os.urandom(12).hex()  # this run's only: never a default
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "ORDERS_DATABASE_URL": f"sqlite:///{tmp}/orders.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "LEGACY_BASE_URL": urls["monolith"],
           "STRANGLER_SHADOW_KEY": os.urandom(16).hex(), "STRANGLER_IDENTITY_KEY": identity_key,
           "LEGACY_SECRET_KEY": os.urandom(24).hex(), PASSWORD_ENV: password}
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", "200", "--customers",
                    str(CUSTOMERS), "--orders", str(args.orders)], env=full_env, cwd=REPO, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)
    results: dict[str, dict[str, list[dict[str, float]]]] = {s: {a: [] for a in ARMS} for s in ("get", "list")}
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with running(monolith_argv(legacy_port, args.workers),
                 health_url=f"{urls['monolith']}/healthz", env=env, cwd=REPO, log_path=tmp / "legacy.log"):
        subprocess.run([sys.executable, "-c", "import strangler.cli.migrate; from strangler.cli.app import app; "
                        "app(prog_name='strangler')", "migrate", "backfill", "orders"],
                       env=full_env, cwd=REPO, check=True, timeout=300, stdout=subprocess.DEVNULL)
        with running(service_argv("orders", service_port, args.workers),
                     health_url=f"{urls['service']}/healthz", env=env, cwd=REPO, log_path=tmp / "orders.log"):
            with httpx.Client(base_url=urls["monolith"], timeout=10) as login:
                answer = login.post("/api/login", json={"Email": "customer1@example.com", "Password": password})
                if answer.status_code != 200:
                    sys.exit(f"login on the monolith failed ({answer.status_code}: {answer.text[:200]}). Fix: check "
                             f"the seed sets {PASSWORD_ENV} passwords")
                auths: dict[str, dict[str, Any]] = {"monolith": {"cookies": dict(login.cookies)},
                         "service": {"key": identity_key, "principal": Principal("1")}}
            for scenario in results:  # warm-up: connections, caches, lazy imports
                for arm in ARMS:
                    load(urls[arm], scenario, args.orders, 1, args.connections, auths[arm])
            for round_no in range(1, args.rounds + 1):
                for scenario in results:
                    for arm in ARMS if round_no % 2 else reversed(ARMS):
                        fig = load(urls[arm], scenario, args.orders, args.duration, args.connections, auths[arm])
                        results[scenario][arm].append(fig)
                        print(f"round {round_no:2d} {scenario:4s} {arm:8s} {fig['req/s']:8.1f} req/s  "
                              f"p50 {fig['p50 ms']:7.1f} ms  p95 {fig['p95 ms']:7.1f} ms  "
                              f"non-200={fig['non-200']:.0f}", flush=True)
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.rounds} interleaved rounds of {args.duration}s per arm and scenario, {args.connections} "
          f"Python client threads, {args.workers} workers each, {args.orders} orders; {os.cpu_count()} CPU(s) shared "
          f"by the generator and both servers; load average {load_start} at start, {load_end} at end")
    figures = summarise(results)
    write(args.json, "bench_orders", figures, load_average=[load_start, load_end], cpus=os.cpu_count())
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
