"""Benchmark (not a test): requests/s through the exported nginx config vs the backend directly.

One run, loopback only, alternating rounds (direct/nginx, then nginx/direct, ...): each round's nginx
figure is divided by the direct figure measured next to it, so slow drift of this shared machine hits both
sides of a pair alike; prints the median of those paired ratios with its 95 % interval (load/stats.py;
target >= 0.95x, "inconclusive" when the interval straddles it), the
medians of req/s and each process's CPU time per request.

Placement of the processes on the cores (`--placement`, default `both`, one after the other):
- `pinned` (the headline, the production topology where the proxy does not take the service's cores): the
  backend owns the upper half of the cores (`taskset`; one gunicorn worker per owned core), wrk and nginx
  share the lower half. The backend's capacity is the same in both arms; the ratio is what the exported
  nginx costs the service: the contract's extra headers it parses (X-Request-ID, traceparent,
  X-Forwarded-*) and the way requests arrive.
- `shared` (a pessimistic bound): nothing pinned; 2 workers compete with wrk and nginx for every core, so
  nginx's own CPU per request (~130 us here) is taken from the backend.

gunicorn worker (`--worker`): `sync` (default; gunicorn's default, one connection per request, and the
deployment gunicorn's docs recommend: sync workers behind a buffering proxy such as nginx) or `gthread`
(`--threads` per worker, keep-alive 75 s, so nginx's upstream keep-alive pool is used). Measured here with
gthread behind nginx: 2 voluntary + 2 involuntary context switches per request in the worker instead of
1 + 1 direct (counted from /proc/<pid>/task/*/status), 6-10 % more backend CPU per request; and without
pinning, keep-alive connections stay with the worker that accepted them, so how they happened to spread
(4/12, 12/4, 2/17 in three runs) moved req/s by up to 3x between rounds.

Backends (`--backend`):
- `monolith` (default): the demo legacy monolith under gunicorn on a freshly seeded temporary SQLite
  database; wrk requests `GET /api/products/{id}` with ids varied by load/bench_monolith.py's Lua script.
- `trivial`: the tiny uvicorn test upstream (tests/integration/proxy/upstream_app.py): isolates nginx's
  own cost; at ~12k req/s wrk and nginx saturate their core before the backend does.

Exported table: upstreams `legacy` and `svc` both point at the one backend port (the renderer needs a
distinct target name, not a distinct server), default `legacy`, one feature in state `new` targeting `svc`
whose routes are the benchmarked path, so every request takes the full nginx path of a migrated route
(decision map, internal location, header rewriting, GET fallback wiring, keepalive upstream pool).

    .venv/bin/python load/bench_nginx.py [--backend monolith|trivial] [--placement pinned|shared|both]
                                         [--rounds 12] [--seconds 3]
                                         [--worker sync|gthread] [--threads 1] [--json FILE]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from load import figures
from load.bench_facade import cpu_seconds
from load.bench_monolith import GET_LUA, parse_wrk
from load.stats import Interval, median_interval, paired_ratios
from proxy.table import parse_table
from strangler.export.nginx import NginxOptions, render
from strangler.procs import free_port, running

TABLE = """
upstreams:
  legacy: {{url: "http://127.0.0.1:{port}"}}
  svc: {{url: "http://127.0.0.1:{port}"}}
default: legacy
features:
  {feature}:
    target: svc
    state: {state}
    routes: [{routes}]
"""
TRIVIAL_ROUTES = '{methods: [GET], path: "/api/bench/{id}"}, {methods: [GET], path: "/api/other/{id}/x"}'
MONOLITH_ROUTES = '{methods: [GET], path: "/api/products/{id}"}'
SEED = {"products": 2000, "customers": 200, "orders": 500}
SHARED_WORKERS = 2
TARGET = 0.95


def core_split() -> tuple[list[int], list[int]]:
    """(cores for wrk + nginx, cores the backend owns): lower and upper half of the usable cores."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        sys.exit("--placement pinned needs at least 2 cores; use --placement shared")
    half = len(cores) // 2
    return cores[:half], cores[half:]


def pinned(argv: list[str], cores: list[int] | None) -> list[str]:
    """argv run on `cores` only (taskset; children and threads inherit it), or unchanged."""
    return ["taskset", "-c", ",".join(map(str, cores)), *argv] if cores else argv


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its live children (gunicorn and nginx do their work in workers)."""
    total = cpu_seconds(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    total += cpu_seconds(int(entry))
            except (OSError, IndexError, ValueError):
                continue  # exited while we looked
    return total


def wrk_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is our only waited-for child
    return usage.ru_utime + usage.ru_stime


def wrk(url: str, seconds: int, args: argparse.Namespace, cores: list[int] | None) -> dict[str, str]:
    argv = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(args.script), url] if args.script else [url]
    out = subprocess.run(pinned(argv, cores), capture_output=True, text=True, timeout=seconds + 30,
                         check=True).stdout
    return parse_wrk(out)


def measure(url: str, args: argparse.Namespace, pids: dict[str, int], cores: list[int] | None) -> dict:
    """One wrk run plus the CPU each process spent on it, per request (microseconds)."""
    before = {name: tree_cpu(pid) for name, pid in pids.items()} | {"wrk": wrk_cpu()}
    fig = wrk(url, args.seconds, args, cores)
    after = {name: tree_cpu(pid) for name, pid in pids.items()} | {"wrk": wrk_cpu()}
    requests = max(1, int(fig["requests"]))
    res = {"rps": float(fig["req/s"]), "non2xx": float(fig["non-2xx"]), "p50": fig["p50"]}
    return res | {f"cpu_{n}": 1e6 * (after[n] - before[n]) / requests for n in after}


def seed(args: argparse.Namespace, tmp: Path) -> None:
    """The monolith's database and wrk's Lua script, once for every placement."""
    args.script = None
    if args.backend != "monolith":
        return
    args.database_url = f"sqlite:///{tmp / 'legacy.db'}"
    argv = [sys.executable, "-m", "legacy_monolith", "seed", "--database-url", args.database_url]
    argv += [arg for key, n in SEED.items() for arg in (f"--{key}", str(n))]
    subprocess.run(argv, check=True, timeout=300, cwd=ROOT, capture_output=True)
    args.script = tmp / "get.lua"
    args.script.write_text(GET_LUA.format(products=SEED["products"]))


def start_backend(args: argparse.Namespace, stack: ExitStack, log: Path, port: int,
                  cores: list[int] | None) -> tuple[int, str]:
    """Start the chosen backend (on `cores` when pinned); returns (pid, benchmarked path)."""
    if args.backend == "trivial":
        argv = [str(Path(sys.executable).parent / "uvicorn"), "--app-dir", str(ROOT / "tests/integration/proxy"),
                "upstream_app:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-access-log"]
        proc = stack.enter_context(running(pinned(argv, cores), env={"UPSTREAM_NAME": "backend"},
                                           health_url=f"http://127.0.0.1:{port}/healthz", log_path=log))
        return proc.pid, "/api/bench/42"
    mode = ["-k", args.worker, "-w", str(len(cores) if cores else SHARED_WORKERS)]
    if args.worker == "gthread":
        mode += ["--threads", str(args.threads), "--keep-alive", "75"]
    argv = [sys.executable, "-m", "gunicorn", *mode, "--no-control-socket", "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", "legacy_monolith.wsgi:app"]
    proc = stack.enter_context(running(pinned(argv, cores), env={"LEGACY_DATABASE_URL": args.database_url},
                                       cwd=ROOT, timeout=30, health_url=f"http://127.0.0.1:{port}/healthz",
                                       expect_status=200, log_path=log))
    return proc.pid, "/api/products/1"


def run_placement(args: argparse.Namespace, placement: str, tmp: Path) -> dict[str, list[dict]]:
    """Backend and exported nginx for one placement; alternating rounds of direct and nginx."""
    front_cores, backend_cores = core_split() if placement == "pinned" else (None, None)
    prefix = tmp / placement
    (prefix / "tmp").mkdir(parents=True)
    backend, front = free_port(), free_port()
    with ExitStack() as stack:
        backend_pid, path = start_backend(args, stack, prefix / "backend.log", backend, backend_cores)
        feature, routes = ("bench", TRIVIAL_ROUTES) if args.backend == "trivial" else ("catalog", MONOLITH_ROUTES)
        state = args.state + ("\n    canary_percent: 50" if args.state == "canary" else "")
        conf = render(parse_table(TABLE.format(port=backend, state=state, feature=feature, routes=routes)),
                      NginxOptions(listen=f"127.0.0.1:{front}", standalone=True))
        (prefix / "nginx.conf").write_text(conf)
        argv = ["nginx", "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log"),
                "-g", "daemon off;"]
        nginx = stack.enter_context(running(pinned(argv, front_cores), log_path=prefix / "nginx.out",
                                            health_url=f"http://127.0.0.1:{front}/healthz"))
        pids = {"backend": backend_pid, "nginx": nginx.pid}
        targets = {"direct": f"http://127.0.0.1:{backend}{path}", "nginx": f"http://127.0.0.1:{front}{path}"}
        where = (f"backend on core(s) {backend_cores} ({len(backend_cores)} worker(s)), wrk + nginx on core(s) "
                 f"{front_cores}" if backend_cores
                 else f"nothing pinned: wrk, nginx and the backend share {os.cpu_count()} cores")
        label = "trivial (uvicorn)" if args.backend == "trivial" else f"monolith (gunicorn {args.worker})"
        print(f"\n[{placement}] {where}; backend {label}; feature {feature!r} state {args.state} target "
              f"svc, routes [{routes}]; wrk -t1 -c{args.connections} {args.seconds}s x {args.rounds} rounds",
              flush=True)
        for url in targets.values():  # warm both paths' connections and caches
            wrk(url, 2, args, front_cores)
        results: dict[str, Any] = {"direct": [], "nginx": []}  # + the backend log's traceback count
        for i in range(args.rounds):
            for name in (("direct", "nginx") if i % 2 == 0 else ("nginx", "direct")):
                r = measure(targets[name], args, pids, front_cores)
                results[name].append(r)
                print(f"round {i + 1} {name:6s} {r['rps']:7.0f} req/s  p50 {r['p50']:>7s}  non-2xx "
                      f"{r['non2xx']:.0f} | cpu us/req: backend {r['cpu_backend']:.0f}  nginx {r['cpu_nginx']:.0f}"
                      f"  wrk {r['cpu_wrk']:.0f}", flush=True)
        results["tracebacks"] = (prefix / "backend.log").read_text(errors="replace").count("Traceback")
    return results


def summarise(args: argparse.Namespace, placement: str, results: dict) -> Interval:
    """Print the medians and the paired ratios of one placement; returns their median and interval."""
    ratio = median_interval(paired_ratios([r["rps"] for r in results["nginx"]], [r["rps"] for r in results["direct"]]))
    med = {n: {k: statistics.median(r[k] for r in results[n]) for k in results[n][0] if k != "p50"}
           for n in ("direct", "nginx")}
    print(f"[{placement}] medians over {args.rounds} rounds ({args.backend} backend):")
    for name, m in med.items():
        print(f"  {name:6s} {m['rps']:7.0f} req/s | cpu us/req: backend {m['cpu_backend']:.0f}  "
              f"nginx {m['cpu_nginx']:.0f}  wrk {m['cpu_wrk']:.0f} | non-2xx {m['non2xx']:.0f}")
    print(f"  [{placement}] RATIO exported nginx / direct req/s = {ratio.text()} of paired rounds: "
          f"{ratio.verdict(TARGET)} (target >= {TARGET}x)")
    print(f"  nginx CPU per request = {med['nginx']['cpu_nginx']:.0f} us = "
          f"{med['nginx']['cpu_nginx'] / med['direct']['cpu_backend']:.3f}x the backend's own "
          f"{med['direct']['cpu_backend']:.0f} us/req; backend tracebacks during the run: {results['tracebacks']}")
    return ratio


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", default="monolith", choices=["monolith", "trivial"])
    p.add_argument("--placement", default="both", choices=["pinned", "shared", "both"])
    p.add_argument("--rounds", type=int, default=12)
    p.add_argument("--seconds", type=int, default=3)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--state", default="new", choices=["legacy", "new", "canary"])
    p.add_argument("--worker", default="sync", choices=["sync", "gthread"], help="gunicorn worker class (monolith)")
    p.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    figures.add_json_option(p)
    args = p.parse_args()
    figures.keep_bounded(p, args, rounds=(1, 20), seconds=(1, 60), connections=(1, 256), threads=(1, 64))
    placements = ["pinned", "shared"] if args.placement == "both" else [args.placement]
    tools = {"nginx": "nginx", "wrk": "wrk"} | ({"taskset": "util-linux"} if "pinned" in placements else {})
    for tool, package in tools.items():
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed. Fix: install it (Debian: apt-get install -y {package})")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    ratios = {}
    with tempfile.TemporaryDirectory(prefix="bench_nginx_") as tmp:
        seed(args, Path(tmp))
        for placement in placements:
            ratios[placement] = summarise(args, placement, run_placement(args, placement, Path(tmp)))
    figures.write(args.json, "bench_nginx", [
        figures.figure(f"req/s exported nginx / direct, {pl} ({args.backend})", round(r.median, 3), "x",
                       f">= {TARGET}x", r.verdict(TARGET), r) for pl, r in ratios.items()])
    print("\nSUMMARY " + "; ".join(f"{pl}: {r.text()}" for pl, r in ratios.items())
          + f" (target >= {TARGET}x; {os.cpu_count()} cores; pinned = backend on its own core(s) as in production, "
            "shared = wrk, nginx and backend compete for every core)")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
