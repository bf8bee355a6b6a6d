"""Benchmark (not a test): requests/s through the exported nginx config vs the backend directly.

One run, loopback only, alternating rounds (direct, nginx, direct, nginx...) so drift hits both sides
alike; prints the medians and their ratio (target >= 0.95x). The backend is the tiny uvicorn test upstream
(tests/integration/proxy/upstream_app.py). NOTE: on a 2-core box nginx, wrk and the backend share the same
cores, so the ratio is a pessimistic bound — in production nginx runs on its own cores.

    .venv/bin/python load/bench_nginx.py [--rounds 3] [--seconds 5] [--connections 16]
"""
from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from proxy.table import parse_table
from strangler.export.nginx import NginxOptions, render
from strangler.procs import free_port, running

TABLE = """
upstreams:
  legacy: {{url: "http://127.0.0.1:{port}"}}
  svc: {{url: "http://127.0.0.1:{port}"}}
default: legacy
features:
  bench:
    target: svc
    state: {state}
    routes: [{{methods: [GET], path: "/api/bench/{{id}}"}}, {{methods: [GET], path: "/api/other/{{id}}/x"}}]
"""


def wrk(url: str, seconds: int, connections: int) -> float:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", url], capture_output=True, text=True,
                         timeout=seconds + 30, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=int, default=5)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--state", default="new", choices=["legacy", "new", "canary"])
    args = p.parse_args()
    for tool in ("nginx", "wrk"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed; run scripts/system-deps (Debian: apt-get install -y {tool})")
    backend, front = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        prefix = Path(tmp)
        (prefix / "tmp").mkdir()
        state = args.state + ("\n    canary_percent: 50" if args.state == "canary" else "")
        conf = render(parse_table(TABLE.format(port=backend, state=state)),
                      NginxOptions(listen=f"127.0.0.1:{front}", standalone=True))
        (prefix / "nginx.conf").write_text(conf)
        upstream = [str(Path(sys.executable).parent / "uvicorn"), "--app-dir", str(ROOT / "tests/integration/proxy"),
                    "upstream_app:app", "--host", "127.0.0.1", "--port", str(backend), "--log-level", "warning",
                    "--no-access-log"]
        stack.enter_context(running(upstream, env={"UPSTREAM_NAME": "backend"},
                                    health_url=f"http://127.0.0.1:{backend}/healthz", log_path=prefix / "backend.log"))
        stack.enter_context(running(["nginx", "-p", tmp, "-c", str(prefix / "nginx.conf"), "-e",
                                     str(prefix / "error.log"), "-g", "daemon off;"],
                                    health_url=f"http://127.0.0.1:{front}/healthz", log_path=prefix / "nginx.out"))
        path = "/api/bench/42"
        wrk(f"http://127.0.0.1:{front}{path}", 1, args.connections)  # warm both paths' connections
        direct, via = [], []
        for i in range(args.rounds):
            direct.append(wrk(f"http://127.0.0.1:{backend}{path}", args.seconds, args.connections))
            via.append(wrk(f"http://127.0.0.1:{front}{path}", args.seconds, args.connections))
            print(f"round {i + 1}: direct {direct[-1]:.0f} req/s, nginx {via[-1]:.0f} req/s", flush=True)
        d, n = statistics.median(direct), statistics.median(via)
        print(f"median direct {d:.0f} req/s, exported nginx (state {args.state}) {n:.0f} req/s, "
              f"ratio {n / d:.3f}x (target >= 0.95x; 2 shared cores: wrk, nginx and backend compete)")


if __name__ == "__main__":
    main()
