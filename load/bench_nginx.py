"""Benchmark (not a test): requests/s through the exported nginx config vs the backend directly.

One run, loopback only, alternating rounds (direct/nginx, then nginx/direct, ...) so drift hits both sides
alike; prints the medians, their ratio (target >= 0.95x) and each process's CPU time per request.

Backends (`--backend`):
- `monolith` (default, what production looks like): the demo legacy monolith under gunicorn (gthread,
  2 workers x 4 threads, keep-alive 75 s) on a freshly seeded temporary SQLite database; wrk requests
  `GET /api/products/{id}` with ids varied by load/bench_monolith.py's Lua script.
- `trivial`: the tiny uvicorn test upstream (tests/integration/proxy/upstream_app.py) — isolates nginx's own
  cost, but at ~12k req/s nginx, wrk and the backend fight for the cores, so the ratio drops.

Exported table: upstreams `legacy` and `svc` both point at the one backend port (the renderer needs a
distinct target name, not a distinct server), default `legacy`, one feature in state `new` targeting `svc`
whose routes are the benchmarked path — so every request takes the full nginx path of a migrated route
(decision map, internal location, header rewriting, GET fallback wiring, keepalive upstream pool).
NOTE: on a 2-core box nginx, wrk and the backend share the same cores, so the req/s ratio is a pessimistic
bound — in production nginx runs on its own cores; the CPU-per-request figures are the steadier measure.

    .venv/bin/python load/bench_nginx.py [--backend monolith|trivial] [--rounds 3] [--seconds 5]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from load.bench_facade import cpu_seconds
from load.bench_monolith import GET_LUA, parse_wrk
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
GUNICORN = ["-k", "gthread", "--threads", "4", "--keep-alive", "75", "-w", "2", "--no-control-socket"]


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


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> dict[str, str]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    argv += ["-s", str(script), url] if script else [url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    return parse_wrk(out)


def measure(url: str, args: argparse.Namespace, script: Path | None, pids: dict[str, int]) -> dict[str, float]:
    """One wrk run plus the CPU each process spent on it, per request (microseconds)."""
    before = {name: tree_cpu(pid) for name, pid in pids.items()} | {"wrk": wrk_cpu()}
    fig = wrk(url, args.seconds, args.connections, script)
    after = {name: tree_cpu(pid) for name, pid in pids.items()} | {"wrk": wrk_cpu()}
    requests = max(1, int(fig["requests"]))
    res = {"rps": float(fig["req/s"]), "non2xx": float(fig["non-2xx"]), "p50": fig["p50"]}
    res |= {f"cpu_{n}": 1e6 * (after[n] - before[n]) / requests for n in after}
    return res


def start_backend(args: argparse.Namespace, stack: ExitStack, tmp: Path, port: int) -> tuple[int, str, Path | None]:
    """Start the chosen backend; returns (pid, benchmarked path, wrk Lua script or None)."""
    if args.backend == "trivial":
        argv = [str(Path(sys.executable).parent / "uvicorn"), "--app-dir", str(ROOT / "tests/integration/proxy"),
                "upstream_app:app", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-access-log"]
        proc = stack.enter_context(running(argv, env={"UPSTREAM_NAME": "backend"},
                                           health_url=f"http://127.0.0.1:{port}/healthz",
                                           log_path=tmp / "backend.log"))
        return proc.pid, "/api/bench/42", None
    database_url = f"sqlite:///{tmp / 'legacy.db'}"
    seed = [sys.executable, "-m", "legacy_monolith", "seed", "--database-url", database_url]
    seed += [arg for key, n in SEED.items() for arg in (f"--{key}", str(n))]
    subprocess.run(seed, check=True, timeout=300, cwd=ROOT, capture_output=True)
    script = tmp / "get.lua"
    script.write_text(GET_LUA.format(products=SEED["products"]))
    argv = [sys.executable, "-m", "gunicorn", *GUNICORN, "-b", f"127.0.0.1:{port}", "--log-level", "warning",
            "legacy_monolith.wsgi:app"]
    proc = stack.enter_context(running(argv, env={"LEGACY_DATABASE_URL": database_url}, cwd=ROOT, timeout=30,
                                       health_url=f"http://127.0.0.1:{port}/healthz", expect_status=200,
                                       log_path=tmp / "backend.log"))
    return proc.pid, "/api/products/1", script


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backend", default="monolith", choices=["monolith", "trivial"])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--state", default="new", choices=["legacy", "new", "canary"])
    args = p.parse_args()
    if not (1 <= args.rounds <= 20 and 1 <= args.seconds <= 60 and 1 <= args.connections <= 256):
        p.error("keep runs bounded: --rounds 1..20, --seconds 1..60, --connections 1..256")
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed; run scripts/system-deps (Debian: apt-get install -y {tool})")
    backend, front = free_port(), free_port()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench_nginx_") as tmp, ExitStack() as stack:
        prefix = Path(tmp)
        (prefix / "tmp").mkdir()
        backend_pid, path, script = start_backend(args, stack, prefix, backend)
        feature, routes = ("bench", TRIVIAL_ROUTES) if args.backend == "trivial" else ("catalog", MONOLITH_ROUTES)
        state = args.state + ("\n    canary_percent: 50" if args.state == "canary" else "")
        conf = render(parse_table(TABLE.format(port=backend, state=state, feature=feature, routes=routes)),
                      NginxOptions(listen=f"127.0.0.1:{front}", standalone=True))
        (prefix / "nginx.conf").write_text(conf)
        nginx = stack.enter_context(running(["nginx", "-p", tmp, "-c", str(prefix / "nginx.conf"), "-e",
                                             str(prefix / "error.log"), "-g", "daemon off;"],
                                            health_url=f"http://127.0.0.1:{front}/healthz",
                                            log_path=prefix / "nginx.out"))
        pids = {"backend": backend_pid, "nginx": nginx.pid}
        targets = {"direct": f"http://127.0.0.1:{backend}{path}", "nginx": f"http://127.0.0.1:{front}{path}"}
        print(f"backend {args.backend}; exported table: upstreams legacy and svc -> 127.0.0.1:{backend}, "
              f"default legacy, feature {feature!r} state {args.state} target svc, routes [{routes}]; "
              f"wrk -t1 -c{args.connections} {args.seconds}s x {args.rounds} rounds, path "
              f"{'/api/products/{1..' + str(SEED['products']) + '} (Lua)' if script else path}", flush=True)
        for url in targets.values():  # warm both paths' connections and caches
            wrk(url, 1, args.connections, script)
        results: dict[str, list[dict[str, float]]] = {"direct": [], "nginx": []}
        for i in range(args.rounds):
            for name in (("direct", "nginx") if i % 2 == 0 else ("nginx", "direct")):
                r = measure(targets[name], args, script, pids)
                results[name].append(r)
                print(f"round {i + 1} {name:6s} {r['rps']:7.0f} req/s  p50 {r['p50']:>7s}  non-2xx "
                      f"{r['non2xx']:.0f} | cpu us/req: backend {r['cpu_backend']:.0f}  nginx {r['cpu_nginx']:.0f}"
                      f"  wrk {r['cpu_wrk']:.0f}", flush=True)
        tracebacks = (prefix / "backend.log").read_text(errors="replace").count("Traceback")
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0] if k != "p50"} for n, rs in results.items()}
    d, n = med["direct"], med["nginx"]
    print(f"\nmedians over {args.rounds} rounds ({args.backend} backend, {os.cpu_count()} CPU cores shared by wrk, "
          f"nginx and the backend):")
    for name, m in med.items():
        print(f"  {name:6s} {m['rps']:7.0f} req/s | cpu us/req: backend {m['cpu_backend']:.0f}  "
              f"nginx {m['cpu_nginx']:.0f}  wrk {m['cpu_wrk']:.0f} | non-2xx {m['non2xx']:.0f}")
    print(f"  RATIO exported nginx / direct req/s = {n['rps'] / d['rps']:.3f}x (target >= 0.95x; {args.backend} "
          f"backend; on {os.cpu_count()} shared cores wrk, nginx and the backend compete, so this is a pessimistic "
          "bound — in production nginx runs on its own cores)")
    print(f"  nginx CPU per request = {n['cpu_nginx']:.0f} us = {n['cpu_nginx'] / d['cpu_backend']:.3f}x the "
          f"backend's own {d['cpu_backend']:.0f} us/req (direct); backend tracebacks during the run: {tracebacks}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
