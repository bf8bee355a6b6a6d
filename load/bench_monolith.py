"""Benchmark of the demo legacy monolith: seed time, then req/s of a read and a write under gunicorn, via wrk.

    .venv/bin/python -m load.bench_monolith [--workers 2] [--duration 10] [--connections 16]

Starts gunicorn on a free loopback port against a freshly seeded temporary SQLite database (a session key and
customer password generated for the run; the write scenario places orders as 10 logged-in customers), runs `wrk`
(Debian package `wrk`) for a bounded time per scenario, prints req/s and latency, stops everything.
wrk, gunicorn and the app share the same machine's cores: figures are for comparison within one run.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from strangler.procs import free_port, running

GET_LUA = """math.randomseed(42)
request = function()
  return wrk.format("GET", "/api/products/" .. math.random(1, {products}))
end
"""
POST_LUA = """math.randomseed(7)
local sessions = {{{sessions}}}
request = function()
  local s = sessions[math.random(1, #sessions)]
  local headers = {{["Content-Type"] = "application/json", ["Cookie"] = s[2]}}
  local body = string.format('{{"CustomerId":%d,"Lines":[{{"ProductId":%d,"Quantity":1}}]}}',
                             s[1], math.random(1, {products}))
  return wrk.format("POST", "/api/orders", headers, body)
end
"""
SESSIONS = 10  # logged-in customers the write scenario places orders for (one login each: a scrypt check)


def log_in_customers(url: str, password: str, customers: int) -> list[tuple[int, str]]:
    """(CustomerId, Cookie header) of SESSIONS seeded customers: orders need a logged-in customer, and an
    order is placed for the one logged in."""
    sessions = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for customer in range(1, min(SESSIONS, customers) + 1):
            answer = client.post("/api/login", json={"Email": f"customer{customer}@example.com",
                                                     "Password": password})
            answer.raise_for_status()
            sessions.append((customer, f"session={answer.cookies['session']}"))
            client.cookies.clear()
    return sessions


def parse_wrk(output: str) -> dict[str, str]:
    """The figures we report from wrk's text output."""
    found = {"req/s": re.search(r"Requests/sec:\s+([\d.]+)", output),
             "latency avg": re.search(r"Latency\s+([\d.]+\w+)", output),
             "p50": re.search(r"50%\s+([\d.]+\w+)", output),
             "p99": re.search(r"99%\s+([\d.]+\w+)", output),
             "requests": re.search(r"(\d+) requests in", output),
             "non-2xx": re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output),
             "socket errors": re.search(r"Socket errors:(.*)", output)}
    return {key: (m.group(1).strip() if m else "0" if key == "non-2xx" else "-") for key, m in found.items()}


def run_wrk(url: str, script: Path, args: argparse.Namespace) -> dict[str, str]:
    argv = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--latency",
            "--timeout", "10s", "-s", str(script), url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=args.duration + 30, check=True)
    return parse_wrk(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk scenario (bounded)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=20000)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `apt-get install -y wrk`", file=sys.stderr)
        return 2
    if not 1 <= args.duration <= 120:
        parser.error("--duration must be between 1 and 120 seconds")
    with tempfile.TemporaryDirectory(prefix="bench_monolith_") as tmp:
        work = Path(tmp)
        database_url = f"sqlite:///{work / 'legacy.db'}"
        # this run's own session key and customers' password: generated, never a default
        env = {"LEGACY_DATABASE_URL": database_url, "LEGACY_SECRET_KEY": secrets.token_urlsafe(32),
               "LEGACY_SEED_PASSWORD": secrets.token_urlsafe(16)}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--database-url", database_url,
                        "--products", str(args.products), "--customers", str(args.customers),
                        "--orders", str(args.orders)], check=True, timeout=600, env={**os.environ, **env})
        print(f"seed wall time (incl. interpreter start): {time.perf_counter() - started:.2f}s")
        (work / "get.lua").write_text(GET_LUA.format(products=args.products))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        gunicorn = [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
                    "--no-control-socket", "--log-level", "warning", "legacy_monolith.wsgi:app"]
        with running(gunicorn, health_url=f"{url}/healthz", env=env,
                     log_path=work / "gunicorn.log", timeout=30, expect_status=200):
            sessions = log_in_customers(url, env["LEGACY_SEED_PASSWORD"], args.customers)
            (work / "post.lua").write_text(POST_LUA.format(
                products=args.products, sessions=", ".join(f'{{{cid}, "{cookie}"}}' for cid, cookie in sessions)))
            print(f"gunicorn sync workers={args.workers}; wrk -t{args.threads} -c{args.connections} "
                  f"-d{args.duration}s on loopback; wrk, gunicorn and the app share this machine's cores")
            for name, script in (("GET /api/products/{id}", "get.lua"), ("POST /api/orders", "post.lua")):
                figures = run_wrk(url, work / script, args)
                print(f"{name:<24} " + "  ".join(f"{k}={v}" for k, v in figures.items()))
        errors = [ln for ln in (work / "gunicorn.log").read_text().splitlines() if "Traceback" in ln]
        print(f"server tracebacks during the run: {len(errors)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
