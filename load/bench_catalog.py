"""Benchmark: the legacy catalog reads on the monolith vs the same calls on the catalog service.

    .venv/bin/python -m load.bench_catalog [--products 2000] [--rounds 8] [--duration 3] [--connections 16]
                                           [--json FILE]

One run, same machine, same data: starts the seeded monolith and the backfilled catalog service on free loopback
ports, each as config/stack.yaml runs it (load/demo_servers.py: gunicorn gthread with keep-alive; the service's
workers on a listening socket each), then runs short wrk rounds of two scenarios — list (`GET /api/products`,
a random page of 50) and get (`GET /api/products/{id}`, a random id) — interleaved: every round measures the
monolith and the service back to back, in alternating order, so drift in the machine's load hits both arms.
Per scenario it prints req/s, p50, p95 and server CPU per request (both servers' process trees: the
service's answers include the monolith's inventory hop) of each arm (medians over the rounds) and the paired ratios
service/monolith with a 95 % interval (load/stats.py); targets: req/s ratio >= 1.0, p95 ratio <= 1.0. When the
interval straddles the target the verdict is "inconclusive" — run more rounds on a quieter machine.
The service answers `Available` through the monolith's inventory API (one batched call per answer, cached a
few seconds — acl/catalog/availability.py), so the monolith serves that hop during the service's rounds too.
Its refresh-ahead thread keeps running through the monolith's rounds too (its CPU is in both arms' figure).
wrk, both servers and that hop share the cores: compare the ratios, not the absolute numbers.
Bounded: rounds x 2 scenarios x 2 arms x duration seconds of load (plus a 1 s warm-up each), then all stopped.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from load.demo_servers import monolith_argv, service_argv
from load.figures import add_json_option, service_vs_monolith, write
from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[1]
PAGE_SIZE = 50
REPORT = """done = function(summary, latency, requests)
  io.write(string.format("P50_US %d\\nP95_US %d\\n", latency:percentile(50), latency:percentile(95)))
end
"""
SCENARIOS = {
    "get": 'math.randomseed(42)\nrequest = function()\n  return wrk.format("GET", "/api/products/" .. '
           'math.random(1, {products}))\nend\n',
    "list": 'math.randomseed(43)\nrequest = function()\n  return wrk.format("GET", "/api/products?page=" .. '
            'math.random(1, {pages}) .. "&page_size={page_size}")\nend\n',
}
ARMS = ("monolith", "service")
METRICS = (("req/s", True), ("p50 ms", False), ("p95 ms", False), ("cpu ms/req", False))  # (name, higher is better)
TARGETS = {"req/s": 1.0, "p95 ms": 1.0}  # p50 and CPU per request (both servers' process trees) are reported


def wrk(url: str, script: Path, duration: int, connections: int) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", str(script),
                          url], capture_output=True, text=True, timeout=duration + 30, check=True).stdout

    def number(pattern: str) -> float:
        found = re.search(pattern, out)
        if found is None:
            raise RuntimeError(f"wrk output lacks {pattern!r}. Fix: check wrk works: {out[-300:]!r}")
        return float(found.group(1))

    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    done = number(r"(\d+) requests in")
    # no answer completed within the round: its latency is unknown but longer than the round (never "0 ms")
    p50, p95 = (number(r"P50_US (\d+)") / 1000, number(r"P95_US (\d+)") / 1000) if done else (math.inf, math.inf)
    return {"req/s": number(r"Requests/sec:\s+([\d.]+)"), "p50 ms": p50, "p95 ms": p95,
            "non-2xx": float(errors.group(1)) if errors else 0.0}


def tree_cpu(pid: int) -> float:
    """CPU seconds of a server and its worker processes, from each process's own counters (/proc/PID/stat):
    unlike a per-thread sum, threads that ended (thread pools shrink) keep counting."""
    def own(stat: list[str]) -> float:
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    total = 0.0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited while we looked
            if int(entry) == pid or int(stat[1]) == pid:
                total += own(stat)
    return total


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summarise(results: dict[str, dict[str, list[dict[str, float]]]]) -> list[dict[str, object]]:
    """Print the medians and paired ratios per scenario and metric; return the headline figures."""
    return service_vs_monolith("catalog", results, METRICS, TARGETS, "non-2xx")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=8, choices=range(1, 41),
                        help="interleaved rounds (>= 6 for a 95 %% interval on the ratios)")
    parser.add_argument("--duration", type=int, default=3, choices=range(1, 61), help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn / uvicorn workers each")
    add_json_option(parser)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found. Fix: install it (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    legacy_port, service_port = free_port(), free_port()
    urls = {"monolith": f"http://127.0.0.1:{legacy_port}", "service": f"http://127.0.0.1:{service_port}"}
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "LEGACY_BASE_URL": urls["monolith"],
           "STRANGLER_SHADOW_KEY": os.environ.get("STRANGLER_SHADOW_KEY") or os.urandom(16).hex()}
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", str(args.products),
                    "--customers", "100", "--orders", "2000"], env=full_env, cwd=REPO, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)
    scripts = {}
    for name, lua in SCENARIOS.items():
        scripts[name] = tmp / f"{name}.lua"
        scripts[name].write_text(lua.format(products=args.products, pages=max(1, args.products // PAGE_SIZE),
                                            page_size=PAGE_SIZE) + REPORT)
    results: dict[str, dict[str, list[dict[str, float]]]] = {s: {a: [] for a in ARMS} for s in SCENARIOS}
    load_start = loadavg()
    with running(monolith_argv(legacy_port, args.workers),
                 health_url=f"{urls['monolith']}/healthz", env=env, cwd=REPO, log_path=tmp / "legacy.log") as monolith:
        subprocess.run([sys.executable, "-c", "import strangler.cli.migrate; from strangler.cli.app import app; "
                        "app(prog_name='strangler')", "migrate", "backfill", "catalog"],
                       env=full_env, cwd=REPO, check=True, timeout=300, stdout=subprocess.DEVNULL)
        with running(service_argv("catalog", service_port, args.workers),
                     health_url=f"{urls['service']}/healthz", env=env, cwd=REPO,
                     log_path=tmp / "catalog.log") as service:
            for scenario in SCENARIOS:  # warm-up: connections, caches, lazy imports
                for arm in ARMS:
                    wrk(urls[arm], scripts[scenario], 1, args.connections)
            for round_no in range(1, args.rounds + 1):
                for scenario in SCENARIOS:
                    for arm in ARMS if round_no % 2 else reversed(ARMS):
                        cpu_before = tree_cpu(monolith.pid) + tree_cpu(service.pid)
                        fig = wrk(urls[arm], scripts[scenario], args.duration, args.connections)
                        # both trees: the service's answers include the monolith's inventory hop
                        cpu = tree_cpu(monolith.pid) + tree_cpu(service.pid) - cpu_before
                        fig["cpu ms/req"] = cpu * 1000 / max(fig["req/s"] * args.duration, 1)
                        results[scenario][arm].append(fig)
                        print(f"round {round_no:2d} {scenario:4s} {arm:8s} {fig['req/s']:8.1f} req/s  "
                              f"p50 {fig['p50 ms']:7.1f} ms  p95 {fig['p95 ms']:7.1f} ms  "
                              f"cpu {fig['cpu ms/req']:5.2f} ms/req  "
                              f"non-2xx={fig['non-2xx']:.0f}", flush=True)
    load_end = loadavg()
    print(f"\n{args.rounds} interleaved rounds of {args.duration}s per arm and scenario, wrk -t1 "
          f"-c{args.connections}, {args.workers} workers each, {args.products} products, page size {PAGE_SIZE}; "
          f"{os.cpu_count()} CPU(s) shared by wrk and both servers; load average {load_start} at start, "
          f"{load_end} at end")
    figures = summarise(results)
    write(args.json, "bench_catalog", figures, load_average=[load_start, load_end], cpus=os.cpu_count())
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
