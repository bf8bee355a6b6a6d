"""Benchmark: comparisons per second of `strangler parity run` on the catalog, beside the monolith's own req/s.

    .venv/bin/python -m load.bench_parity [--rounds 3] [--seconds 15] [--users 5] [--products 2000] [--json FILE]

One run, same machine, same data: seeds the monolith and the backfilled catalog service (2 workers each, as
config/stack.yaml runs them: load/demo_servers.py) on free loopback ports. The requests: the catalog entries of
the demo's `read` mix (config/load-mix.yaml: list, list by category, get product). Each round, in alternating order:
- `strangler parity run --feature catalog` with --users users: every request goes to the monolith (twice
  when it is a noise sample: each route's first 5, then the feature's parity.noise_sample_rate, as the CLI
  does) and to the service, and is compared and stored. Figure: comparisons/s (the candidate's requests/s in
  Locust's stats) and the monolith's req/s in that run (its reference requests);
- `strangler load` of the same requests against the monolith alone with the same users: the monolith's own
  req/s, what one Locust process gets from it on this machine.
Target (issue 21): comparisons/s >= 100 (4x the 25/s the parity run reached when each product asked the
monolith's inventory API in turn). Locust, both servers and anything else running share the cores; the load
average is printed. Bounded: rounds x 2 Locust runs of --seconds each (plus Locust's start and stop).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from load.bench_catalog import tree_cpu
from load.demo_servers import monolith_argv, service_argv
from load.figures import add_json_option, bounded, figure, keep_bounded, write
from proxy.common import yamlio
from strangler.procs import free_port, running

REPO = Path(__file__).resolve().parents[1]
TARGET = 100.0  # comparisons/s
# Stats rows of load/thresholds.py's REFERENCE_PREFIX and the parity user's login rows; not imported: importing
# Locust's modules monkey-patches this process with gevent.
REFERENCE_PREFIX = "[reference] "
NOT_COMPARED = {"Aggregated", "login", "identity (who am I)"}


def catalog_mix(tmp: Path) -> Path:
    """The `read` mix's catalog entries (what `--feature catalog` keeps), as a mix file of their own, so the
    monolith-alone run sends the same requests."""
    doc = yamlio.plain(yamlio.parse_yaml((REPO / "config" / "load-mix.yaml").read_text()))
    entries = [e for e in doc["mixes"]["read"] if str(e["path"]).startswith("/api/products")]
    path = tmp / "catalog-mix.yaml"
    path.write_text(json.dumps({"mixes": {"catalog": entries}}, indent=1))  # JSON is YAML
    return path


def stats(csv_prefix: Path) -> dict[str, float]:
    """Requests/s of the candidate (compared) rows and of the reference rows of Locust's stats CSV."""
    out = {"compared": 0.0, "reference": 0.0, "failures": 0.0}
    with Path(f"{csv_prefix}_stats.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] in NOT_COMPARED:
                continue
            side = "reference" if row["Name"].startswith(REFERENCE_PREFIX) else "compared"
            out[side] += float(row["Requests/s"])
            out["failures"] += float(row["Failure Count"])
    return out


def children_cpu() -> float:
    """CPU seconds of the finished child processes (the CLI and its Locust)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli(args: list[str], env: dict[str, str], log: Path, timeout: float) -> int:
    with log.open("a") as handle:
        return subprocess.run([sys.executable, "-m", "strangler", *args], env=env, cwd=REPO, stdout=handle,
                              stderr=subprocess.STDOUT, timeout=timeout, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of a parity run and a monolith-alone run")
    parser.add_argument("--seconds", type=int, default=15, help="Locust run time of each run")
    parser.add_argument("--users", type=int, default=5, help="Locust users (the CLI's default: 5)")
    parser.add_argument("--products", type=int, default=2000)
    add_json_option(parser)
    args = parser.parse_args(argv)
    keep_bounded(parser, args, rounds=(1, 20), seconds=(3, 120), users=(1, 50), products=(10, 100_000))
    tmp = Path(tempfile.mkdtemp(prefix="bench-parity-"))
    legacy_port, service_port = free_port(), free_port()
    legacy, service = f"http://127.0.0.1:{legacy_port}", f"http://127.0.0.1:{service_port}"
    env = {"LEGACY_DATABASE_URL": f"sqlite:///{tmp}/legacy.db", "CATALOG_DATABASE_URL": f"sqlite:///{tmp}/catalog.db",
           "STRANGLER_VAR_DIR": str(tmp / "var"), "LEGACY_BASE_URL": legacy,
           "STRANGLER_SHADOW_KEY": os.urandom(16).hex()}
    full_env = {**os.environ, **env, "STRANGLER_PORT_LEGACY": str(legacy_port),
                "STRANGLER_PORT_CATALOG": str(service_port)}
    subprocess.run([sys.executable, "-m", "legacy_monolith", "seed", "--products", str(args.products),
                    "--customers", "100", "--orders", "200"], env=full_env, cwd=REPO, check=True, timeout=300,
                   stdout=subprocess.DEVNULL)
    mix, log = catalog_mix(tmp), tmp / "runs.log"
    common = ["--mix", str(mix), "--mix-name", "catalog", "--users", str(args.users), "--run-time",
              f"{args.seconds}s", "--max-requests", "1000000"]
    rounds: list[dict[str, float]] = []
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    with running(monolith_argv(legacy_port, 2),
                 health_url=f"{legacy}/healthz", env=env, cwd=REPO, log_path=tmp / "legacy.log") as monolith:
        cli(["migrate", "backfill", "catalog"], full_env, log, 300)
        with running(service_argv("catalog", service_port, 2),
                     health_url=f"{service}/healthz", env=env, cwd=REPO, log_path=tmp / "catalog.log") as svc:
            for round_no in range(1, args.rounds + 1):
                figures: dict[str, float] = {}
                for arm in ("parity", "alone") if round_no % 2 else ("alone", "parity"):
                    prefix = tmp / f"{arm}-{round_no}"
                    cpu_before = (children_cpu(), tree_cpu(monolith.pid), tree_cpu(svc.pid))
                    if arm == "parity":
                        code = cli(["parity", "run", "--reference", legacy, "--candidate", service, "--feature",
                                    "catalog", "--routes", str(REPO / "config" / "routes.yaml"), "--store",
                                    str(tmp / "parity.db"), "--csv", str(prefix), "--html", f"{prefix}.html",
                                    *common], full_env, log, args.seconds + 120)
                        got = stats(prefix)
                        figures |= {"comparisons/s": got["compared"], "monolith req/s in the run": got["reference"],
                                    "parity failures": got["failures"], "parity exit": code}
                        done = max(got["compared"] * args.seconds, 1)  # CPU ms per comparison, per process
                        figures |= {f"cpu ms/comparison {name}": (after - before) * 1000 / done for name, before, after
                                    in zip(("locust", "monolith", "service"), cpu_before,
                                           (children_cpu(), tree_cpu(monolith.pid), tree_cpu(svc.pid)),
                                           strict=True)}
                    else:
                        code = cli(["load", "--host", legacy, "--csv", str(prefix), "--html", f"{prefix}.html",
                                    *common], full_env, log, args.seconds + 120)
                        got = stats(prefix)
                        figures |= {"monolith alone req/s": got["compared"], "load exit": code}
                rounds.append(figures)
                print(f"round {round_no}: {figures['comparisons/s']:6.1f} comparisons/s (monolith "
                      f"{figures['monolith req/s in the run']:6.1f} req/s in the run); monolith alone "
                      f"{figures['monolith alone req/s']:6.1f} req/s; failures {figures['parity failures']:.0f}, "
                      f"exit codes parity {figures['parity exit']}, load {figures['load exit']}; "
                      f"load average {os.getloadavg()[0]:.2f}", flush=True)
                print("         CPU ms per comparison: " + ", ".join(
                    f"{k.rsplit(' ', 1)[1]} {v:.2f}" for k, v in figures.items() if k.startswith("cpu ")), flush=True)
    load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())

    def med(key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    print(f"\n{args.rounds} rounds of {args.seconds} s, {args.users} Locust users, {args.products} products; "
          f"{os.cpu_count()} CPU(s) shared by Locust and both servers; load average {load_start} at start, "
          f"{load_end} at end")
    print(f"comparisons/s (median): {med('comparisons/s'):.1f} (target >= {TARGET:g}); the monolith's req/s in "
          f"the parity run {med('monolith req/s in the run'):.1f}, alone with the same users "
          f"{med('monolith alone req/s'):.1f}")
    out = [bounded("parity comparisons/s, catalog (median of rounds)", med("comparisons/s"), "comparisons/s",
                   TARGET, digits=1),
           figure("monolith req/s in the parity run (its reference requests)",
                  round(med("monolith req/s in the run"), 1), "req/s"),
           figure(f"monolith alone req/s, same requests and {args.users} users",
                  round(med("monolith alone req/s"), 1), "req/s"),
           *(figure(f"CPU per comparison, {name} (median)", round(med(f"cpu ms/comparison {name}"), 2), "ms")
             for name in ("locust", "monolith", "service"))]
    if any(r["parity failures"] for r in rounds):
        print(f"WARNING: the parity runs had failures (see {log}): their comparisons/s is not the figure")
    write(args.json, "bench_parity", out, load_average=[load_start, load_end], cpus=os.cpu_count())
    if not any(r["parity failures"] for r in rounds):
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
