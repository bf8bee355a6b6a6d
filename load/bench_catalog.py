"""Benchmark: legacy GET /api/products/{id} on the monolith vs the same call on the catalog service.

    .venv/bin/python -m load.bench_catalog [--products 2000] [--rounds 3] [--duration 5] [--connections 16]

One run, same machine, same seed: starts the seeded monolith (gunicorn) and the backfilled catalog service
(uvicorn) on free loopback ports, then alternates wrk rounds A/B/A/B… over random product ids and prints the
median req/s of each and their ratio. The catalog service answers `Available` by calling the monolith's
inventory API, so during its rounds the monolith serves that call too: the figure includes that hop.
On 2 cores wrk, the servers and that hop share the CPU — compare the ratio, not the absolute numbers.
Bounded: rounds × duration × 2 seconds of load, then everything is stopped.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[1]
LUA = """math.randomseed(42)
request = function()
  return wrk.format("GET", "/api/products/" .. math.random(1, {n}))
end
"""


def wrk(url: str, script: Path, duration: int, connections: int) -> tuple[float, int]:
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
                         capture_output=True, text=True, timeout=duration + 30, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rate, int(errors.group(1)) if errors else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, choices=range(1, 11))
    parser.add_argument("--duration", type=int, default=5, choices=range(1, 61), help="seconds per round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn / uvicorn workers each")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: install it (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="bench-catalog-"))
    legacy_port, service_port = free_port(), free_port()
    legacy, service = f"http://127.0.0.1:{legacy_port}", f"http://127.0.0.1:{service_port}"
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "LEGACY_BASE_URL": legacy,
           "STRANGLER_SHADOW_KEY": os.environ.get("STRANGLER_SHADOW_KEY") or os.urandom(16).hex()}
    full_env = {**os.environ, **env}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", str(args.products),
                    "--customers", "100", "--orders", "2000"], env=full_env, cwd=REPO, check=True, timeout=300)
    script = tmp / "ids.lua"
    script.write_text(LUA.format(n=args.products))
    results: dict[str, list[float]] = {"monolith": [], "catalog service": []}
    with running([sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{legacy_port}",
                  "legacy_monolith.wsgi:app"], health_url=f"{legacy}/healthz", env=env, cwd=REPO,
                 log_path=tmp / "legacy.log"):
        subprocess.run([sys.executable, "-c", "import strangler.cli.migrate; from strangler.cli.app import app; "
                        "app(prog_name='strangler')", "migrate", "backfill", "catalog"],
                       env=full_env, cwd=REPO, check=True, timeout=300)
        with running([sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--host", "127.0.0.1",
                      "--port", str(service_port), "--workers", str(args.workers), "--no-access-log"],
                     health_url=f"{service}/healthz", env=env, cwd=REPO, log_path=tmp / "catalog.log"):
            for round_no in range(1, args.rounds + 1):
                for name, url in (("monolith", legacy), ("catalog service", service)):
                    rate, errors = wrk(url, script, args.duration, args.connections)
                    results[name].append(rate)
                    print(f"round {round_no} {name:16s} {rate:9.1f} req/s  non-2xx={errors}")
    legacy_median = statistics.median(results["monolith"])
    service_median = statistics.median(results["catalog service"])
    print(f"\nmedian over {args.rounds} rounds of {args.duration}s, {args.connections} connections, "
          f"{args.workers} workers each, {args.products} products, {os.cpu_count()} CPU(s) shared by wrk and servers")
    print(f"monolith        GET /api/products/{{id}}: {legacy_median:9.1f} req/s")
    print(f"catalog service GET /api/products/{{id}}: {service_median:9.1f} req/s "
          f"(includes its call to the monolith's inventory API)")
    print(f"ratio service/monolith: {service_median / legacy_median:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
