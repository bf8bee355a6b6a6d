"""Does shadowing cost the client anything? Client latency and throughput with shadow copies on vs off.

Run: python -m load.bench_shadow [--rounds 3] [--seconds 5] [--connections 16] [--json FILE]
Four proxies in front of the same fast legacy backend, measured with wrk in alternating rounds:
bare `mitmdump --mode reverse`, the façade with the feature in state `legacy` (shadow off), the façade
in state `shadow` (every request copied to a target slowed by 100 ms, compared and stored by the façade's
shadow worker process), and the same with the target timing out (timeout 50 ms < its 100 ms). Prints medians,
ratios (targets: client p50 shadow/off <= 1.10x at 1 connection; façade-in-shadow req/s vs bare mitmdump)
and CPU time per request of each proxy process and of the shadow worker (from /proc: steadier than req/s on
a shared machine). Generator, proxies, worker and backends share this machine's CPU cores: the figures are
relative. Prints only; never asserts.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

from load import figures
from load.bench_facade import cpu_seconds, wrk
from strangler.procs import free_port, running

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DELAY_S = 0.1
FACADES = {"shadow off": ("legacy", 5), "shadow on": ("shadow", 5), "shadow timeout": ("shadow", 0.05)}
_BODY = b'{"ok": true, "items": [1, 2, 3]}'

TABLE = """\
upstreams:
  legacy: {{url: "http://127.0.0.1:{legacy}"}}
  slow: {{url: "http://127.0.0.1:{slow}", timeout_s: {timeout}}}
default: legacy
features:
  bench:
    target: slow
    state: {state}
    routes:
      - {{methods: [GET], path: "/bench/{{id}}"}}
    parity: {{sample_rate: 1.0, noise_sample_rate: 0.1, max_in_flight: 64}}
"""


async def slow_app(scope, receive, send):
    """The shadow target: the same answer as the backend, 100 ms later."""
    if scope["type"] != "http":
        return
    if scope["path"] != "/healthz":
        await asyncio.sleep(DELAY_S)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_BODY))]})
    await send({"type": "http.response.body", "body": _BODY})



async def legacy_app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_BODY))]})
    await send({"type": "http.response.body", "body": _BODY})


def _uvicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "uvicorn"), app, "--port", str(port), "--log-level", "warning", "--no-access-log"]


def _facade(legacy: int, port: int, admin: int, routes: Path, db: Path) -> list[str]:
    return [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{port}",
            "--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn",
            "--set", "keep_host_header=true", "-s", str(ROOT / "proxy" / "facade.py"),
            "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin}",
            "--set", f"strangler_parity_db={db}"]


def _worker_pid(admin: int, token: str) -> int:
    """The façade's shadow worker pid, from its /metrics (the worker may take a moment to start)."""
    for _ in range(100):
        text = httpx.get(f"http://127.0.0.1:{admin}/metrics", headers={"Authorization": f"Bearer {token}"},
                         timeout=10).text
        pid = next((float(line.split()[-1]) for line in text.splitlines()
                    if line.startswith("strangler_shadow_worker_pid ")), 0.0)
        if pid:
            return int(pid)
        time.sleep(0.1)
    raise SystemExit("the façade's shadow worker did not start (see its log)")


LOAD_BEFORE = ""


def main() -> None:
    global LOAD_BEFORE
    LOAD_BEFORE = " ".join(f"{x:.2f}" for x in os.getloadavg())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--pause-workers", action="store_true",
                    help="SIGSTOP the shadow workers: the façades still decide and hand over every job (until the "
                         "pipe is full, then drop as worker_lagging); isolates the façade's own cost from CPU "
                         "contention with the worker on a small machine")
    figures.add_json_option(ap)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-shadow-"))
    legacy, slow, bare = free_port(), free_port(), free_port()
    ports = {name: (free_port(), free_port()) for name in FACADES}
    token = os.urandom(16).hex()
    env = {"STRANGLER_ADMIN_TOKEN": token, "STRANGLER_VAR_DIR": str(tmp / "var")}
    results: dict[str, list[dict]] = {"bare mitmdump": [], **{name: [] for name in FACADES}}
    pids: dict[str, int] = {}
    path = "/bench/42"
    with ExitStack() as stack:
        stack.enter_context(running(_uvicorn("load.bench_shadow:legacy_app", legacy), cwd=ROOT,
                                    health_url=f"http://127.0.0.1:{legacy}/healthz", log_path=tmp / "legacy.log"))
        stack.enter_context(running(_uvicorn("load.bench_shadow:slow_app", slow), cwd=ROOT,
                                    health_url=f"http://127.0.0.1:{slow}/healthz", log_path=tmp / "slow.log"))
        pids["bare mitmdump"] = stack.enter_context(running(
            [str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{legacy}@127.0.0.1:{bare}",
             "--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn"],
            health_url=f"http://127.0.0.1:{bare}/healthz", log_path=tmp / "bare.log")).pid
        workers: dict[str, int] = {}
        for name, (port, admin) in ports.items():
            state, timeout = FACADES[name]
            routes = tmp / f"{name.replace(' ', '-')}.yaml"
            routes.write_text(TABLE.format(legacy=legacy, slow=slow, state=state, timeout=timeout))
            pids[name] = stack.enter_context(running(
                _facade(legacy, port, admin, routes, tmp / "parity.db"), env=env, cwd=ROOT,
                health_url=f"http://127.0.0.1:{admin}/healthz", log_path=tmp / f"{name.replace(' ', '-')}.log")).pid
            workers[name] = _worker_pid(admin, token)
        targets = {"bare mitmdump": bare, **{n: p for n, (p, _) in ports.items()}}
        if args.pause_workers:
            for pid in workers.values():
                os.kill(pid, signal.SIGSTOP)
                stack.callback(os.kill, pid, signal.SIGCONT)  # so it can drain and exit with its façade
        for port in targets.values():  # warm-up
            wrk(f"http://127.0.0.1:{port}{path}", 1, args.connections)
        for r in range(args.rounds):
            order = list(targets.items()) if r % 2 == 0 else list(reversed(targets.items()))
            for name, port in order:
                cpu = {k: cpu_seconds(p) for k, p in (("proxy", pids[name]), ("worker", workers.get(name)))
                       if p}
                res = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                done = max(1.0, res["rps"] * args.seconds)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[name]) - cpu["proxy"]) / done
                res["worker_cpu_us"] = 1e6 * (cpu_seconds(workers[name]) - cpu["worker"]) / done if "worker" in cpu \
                    else 0.0
                one = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, 1)  # client latency without queueing
                res["p50_c1_ms"], res["p99_c1_ms"] = one["p50_ms"], one["p99_ms"]
                results[name].append(res)
                print(f"round {r + 1} {name:14s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                      f"non-2xx {res['non2xx']} | 1 conn: p50 {res['p50_c1_ms']:.2f} ms p99 {res['p99_c1_ms']:.2f} ms"
                      f" | cpu {res['cpu_us']:.0f} us/req (+ worker {res['worker_cpu_us']:.0f})", flush=True)
        metrics = {name: httpx.get(f"http://127.0.0.1:{ports[name][1]}/metrics", timeout=10,
                                   headers={"Authorization": f"Bearer {token}"}).text
                   for name in ("shadow on", "shadow timeout")}
    keys = ("rps", "p50_ms", "p50_c1_ms", "p99_c1_ms", "cpu_us", "worker_cpu_us")
    med = {n: {k: statistics.median(x[k] for x in rs) for k in keys} for n, rs in results.items()}
    print(f"\nmedians over {args.rounds} rounds x {args.seconds}s, wrk -t1 -c{args.connections} and -c1, shadow "
          f"target slowed by {DELAY_S * 1000:.0f} ms; {os.cpu_count()} CPU cores shared by wrk, 4 proxies, the "
          f"shadow workers and 2 backends (load average before: {LOAD_BEFORE}):")
    for n, m in med.items():
        print(f"  {n:14s} {m['rps']:8.0f} req/s  p50 {m['p50_ms']:6.2f} ms | 1 connection: p50 {m['p50_c1_ms']:.2f} ms"
              f"  p99 {m['p99_c1_ms']:.2f} ms | cpu {m['cpu_us']:.0f} us/req + worker {m['worker_cpu_us']:.0f}")
    on, off, bare_m, late = med["shadow on"], med["shadow off"], med["bare mitmdump"], med["shadow timeout"]
    print(f"  client p50 (1 connection) shadow on / off = {on['p50_c1_ms'] / off['p50_c1_ms']:.2f}x, target timing "
          f"out / off = {late['p50_c1_ms'] / off['p50_c1_ms']:.2f}x (target <= 1.10x)")
    print(f"  req/s façade in shadow / bare mitmdump = {on['rps'] / bare_m['rps']:.2f}x; "
          f"shadow on / off = {on['rps'] / off['rps']:.2f}x")
    print(f"  façade CPU per request: shadow on {on['cpu_us']:.0f} us, off {off['cpu_us']:.0f} us, bare mitmdump "
          f"{bare_m['cpu_us']:.0f} us (shadow adds {on['cpu_us'] - off['cpu_us']:+.0f} us in the façade; the copy, "
          f"comparison and store write cost {on['worker_cpu_us']:.0f} us in the worker process)")
    for name, text in metrics.items():
        counted = [line for line in text.splitlines() if line.startswith((
            "strangler_shadow_dropped_total", "strangler_shadow_comparisons_total", "strangler_shadow_requests_total"))]
        print(f"  shadow counters ({name} façade):\n    " + "\n    ".join(counted))
    shed, compared = (_counter(metrics["shadow on"], n) for n in ("strangler_shadow_dropped_total",
                                                                  "strangler_shadow_comparisons_total"))
    figures.write(args.json, "bench_shadow", [
        figures.bounded("client p50 shadow on / off (1 connection)", on["p50_c1_ms"] / off["p50_c1_ms"], "x", 1.10,
                        higher_is_better=False),
        figures.bounded("client p50 target timing out / off (1 connection)", late["p50_c1_ms"] / off["p50_c1_ms"],
                        "x", 1.10, higher_is_better=False),
        figures.bounded("copies shed at sample rate 1.0 (shadow on)", 100 * shed / max(1.0, shed + compared), "%",
                        1, higher_is_better=False, digits=1),
        figures.figure("shadow worker CPU per request (shadow on)", round(on["worker_cpu_us"]), "µs")])
    shutil.rmtree(tmp, ignore_errors=True)


def _counter(text: str, name: str) -> float:
    """Sum of a Prometheus counter's samples over all labels."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


if __name__ == "__main__":
    main()
