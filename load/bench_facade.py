"""Throughput/latency of the façade vs bare mitmdump vs the backend alone, measured in one run with wrk.

Run: python -m load.bench_facade [--rounds 3] [--seconds 5] [--connections 16]
Alternates backend-direct, bare `mitmdump --mode reverse`, and the façade (500-route table, metrics and
access log on) for several rounds and prints medians and ratios (targets: façade >= 0.90x bare mitmdump
req/s, p50 added <= 1 ms). Generator, proxy and backend share this machine's CPU cores: the figures are
relative, not absolute capacity. Because req/s swings from round to round on a shared machine, it also prints
each process's CPU time per request (from /proc), the steadier measure of what the addons cost.
Prints only; never asserts.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from strangler.procs import free_port, running

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
_BODY = b'{"ok": true, "served_by": "bench-backend"}'


async def backend_app(scope, receive, send):  # trivial ASGI backend, as fast as uvicorn gets
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_BODY))]})
    await send({"type": "http.response.body", "body": _BODY})


def write_table(path: Path, backend: int) -> str:
    """500 routes (25 features x 20); returns a path that matches a route in state `new`."""
    from load.bench_match import build_table

    table, probes = build_table(500, random.Random(3))
    doc = json.loads(table.model_dump_json(exclude_defaults=True))
    url = f"http://127.0.0.1:{backend}"
    doc["upstreams"] = {"legacy": {"url": url}, "svc": {"url": url + "/"}}
    path.write_text(json.dumps(doc, indent=1))
    return next(p for m, p in probes if "/{" not in p and p.count("/") >= 4)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its threads so far (Linux /proc)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    return {"rps": rps, "p50_ms": _ms(lat["50"]), "p99_ms": _ms(lat["99"]),
            "non2xx": int(errors.group(1)) if errors else 0}


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--connections", type=int, default=16)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-facade-"))
    backend, bare, facade, admin = free_port(), free_port(), free_port(), free_port()
    routes = tmp / "routes.yaml"
    path = write_table(routes, backend)
    common = ["--set", "connection_strategy=lazy", "--set", "flow_detail=0", "--set", "termlog_verbosity=warn"]
    env = {"STRANGLER_ADMIN_TOKEN": os.urandom(16).hex(), "STRANGLER_VAR_DIR": str(tmp / "var")}
    results: dict[str, list[dict]] = {"backend": [], "bare mitmdump": [], "façade": []}
    with (running([str(BIN / "uvicorn"), "load.bench_facade:backend_app", "--port", str(backend),
                   "--log-level", "warning", "--no-access-log"], cwd=ROOT,
                  health_url=f"http://127.0.0.1:{backend}/", log_path=tmp / "backend.log") as backend_proc,
          running([str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{backend}@127.0.0.1:{bare}", *common],
                  health_url=f"http://127.0.0.1:{bare}/", log_path=tmp / "bare.log") as bare_proc,
          running([str(BIN / "mitmdump"), "--mode", f"reverse:http://127.0.0.1:{backend}@127.0.0.1:{facade}",
                   *common, "--set", "keep_host_header=true", "-s", str(ROOT / "proxy" / "facade.py"),
                   "--set", f"strangler_routes={routes}", "--set", f"strangler_admin_port={admin}",
                   "--set", f"strangler_access_log={tmp / 'access.jsonl'}"], env=env, cwd=ROOT,
                  health_url=f"http://127.0.0.1:{admin}/healthz", log_path=tmp / "facade.log") as facade_proc):
        targets = {"backend": backend, "bare mitmdump": bare, "façade": facade}
        pids = {"backend": backend_proc.pid, "bare mitmdump": bare_proc.pid, "façade": facade_proc.pid}
        for name, port in targets.items():  # warm-up
            wrk(f"http://127.0.0.1:{port}{path}", 1, args.connections)
        for r in range(args.rounds):
            order = list(targets.items()) if r % 2 == 0 else list(reversed(targets.items()))
            for name, port in order:
                cpu_before = cpu_seconds(pids[name])
                res = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, args.connections)
                res["cpu_us"] = 1e6 * (cpu_seconds(pids[name]) - cpu_before) / max(1.0, res["rps"] * args.seconds)
                one = wrk(f"http://127.0.0.1:{port}{path}", args.seconds, 1)  # latency without queueing
                res["p50_c1_ms"], res["p99_c1_ms"] = one["p50_ms"], one["p99_ms"]
                results[name].append(res)
                print(f"round {r + 1} {name:14s} {res['rps']:8.0f} req/s  p50 {res['p50_ms']:6.2f} ms  "
                      f"p99 {res['p99_ms']:6.2f} ms  non-2xx {res['non2xx']} | 1 conn: p50 {res['p50_c1_ms']:.2f} ms "
                      f"p99 {res['p99_c1_ms']:.2f} ms | cpu {res['cpu_us']:.0f} us/req", flush=True)
    med = {n: {k: statistics.median(x[k] for x in rs) for k in ("rps", "p50_ms", "p99_ms", "p50_c1_ms", "p99_c1_ms", "cpu_us")}
           for n, rs in results.items()}
    print(f"\nmedians over {args.rounds} rounds x {args.seconds}s, wrk -t1 -c{args.connections}, path {path} "
          f"(500-route table, metrics + access log on), {os.cpu_count()} CPU cores shared by wrk, proxy and backend:")
    for n, m in med.items():
        print(f"  {n:14s} {m['rps']:8.0f} req/s  p50 {m['p50_ms']:6.2f} ms  p99 {m['p99_ms']:6.2f} ms   "
              f"| 1 connection: p50 {m['p50_c1_ms']:.2f} ms  p99 {m['p99_c1_ms']:.2f} ms | cpu {m['cpu_us']:.0f} us/req")
    f, b = med["façade"], med["bare mitmdump"]
    print(f"  façade / bare mitmdump req/s = {f['rps'] / b['rps']:.2f}x (target >= 0.90x); "
          f"p50 added at 1 connection = {f['p50_c1_ms'] - b['p50_c1_ms']:+.2f} ms (target <= 1 ms; at "
          f"{args.connections} connections {f['p50_ms'] - b['p50_ms']:+.2f} ms, mostly queueing); "
          f"bare mitmdump / backend = {b['rps'] / med['backend']['rps']:.2f}x")
    print(f"  CPU per request, façade / bare mitmdump = {f['cpu_us'] / b['cpu_us']:.2f}x "
          f"(+{f['cpu_us'] - b['cpu_us']:.0f} us: what the addons cost; 1 / this ratio is the throughput the façade "
          "keeps when the proxy's core is the bottleneck)")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
