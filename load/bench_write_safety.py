"""Benchmark: the write-safety scenario (tests/integration/write_safety), longer and bigger, on SQLite and PostgreSQL.

    .venv/bin/python load/bench_write_safety.py [--clients 8] [--writes 10] [--rounds 2] [--products 500]
                                                [--backend sqlite|postgres|both]
                                                [--pg-url postgresql+psycopg://root@127.0.0.1:5432/test]
                                                [--json FILE]

Per backend: the whole stack on free loopback ports (gunicorn monolith, uvicorn catalog service, mitmdump
façade, `strangler migrate sync catalog`), then CLIENTS threads create, update and deactivate products through
the façade while the feature goes round the cycle ROUNDS times (shadow, canary 50, new, SIGKILL + restart of the sync,
handover to the service, SIGKILL + restart of the service, retired, new, canary 50, handover to legacy,
legacy). Each client does WRITES writes per phase, so the total is fixed: clients × writes × (13 × rounds + 1).
Then the sync catches up, `strangler migrate verify catalog` runs and every write is looked up on both sides.
Prints writes acknowledged / found / lost / duplicated, non-2xx by status, writes/s over the whole run (the
pauses of handovers and restarts included) and the 1-minute load average: clients, façade, monolith, service,
sync and database share the machine's cores (2 here), so writes/s is a figure for this machine under this
load, not a capacity. Bounded: the counts fix the work, and every wait
(a phase's writes, a restart, the sync catching up) gives up after 120 s. Exit 1 when any write was lost,
duplicated or committed on the side that did not own writes, or verify failed.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scenario lives with the suite it extends

from load import figures
from tests.integration.write_safety.scenario import CYCLE, run_scenario, settle_and_check
from tests.integration.write_safety.stack import databases, write_stack


def bench(backend: str, args: argparse.Namespace, out: list[dict]) -> bool:
    with tempfile.TemporaryDirectory(prefix=f"bench-ws-{backend}-") as tmp, \
            databases(backend, Path(tmp), args.pg_url) as dbs, write_stack(dbs, Path(tmp), args.products) as stack:
        run = run_scenario(stack, clients=args.clients, per_phase=args.writes, seed_products=args.products,
                           steps=CYCLE * args.rounds)
        counts = settle_and_check(stack, run)
        print(f"{counts.line(backend, run, len(run.outcomes))}; load average {os.getloadavg()[0]:.2f}", flush=True)
        out += [figures.bounded(f"{backend}: writes lost + duplicated + on the wrong side",
                                counts.lost + counts.duplicated + counts.foreign, "writes", 0, higher_is_better=False,
                                digits=0),
                figures.figure(f"{backend}: writes acknowledged / found", f"{counts.acknowledged} / {counts.found}"),
                figures.figure(f"{backend}: writes/s through the whole cycle", round(len(run.outcomes) / run.seconds, 1)
                               if run.seconds else 0, "writes/s")]
        for problem in counts.problems[:10]:
            print(f"  {problem}", flush=True)
        return counts.safe


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8, choices=range(1, 33), metavar="1-32")
    parser.add_argument("--writes", type=int, default=10, choices=range(1, 501), metavar="1-500",
                        help="writes per client per phase")
    parser.add_argument("--rounds", type=int, default=2, choices=range(1, 11), metavar="1-10",
                        help="times round the state cycle")
    parser.add_argument("--products", type=int, default=500, choices=range(10, 100_001), metavar="10-100000",
                        help="legacy seed products (updates spread over them)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg-url", default=os.environ.get("STRANGLER_TEST_PG_URL"),
                        help="PostgreSQL server for --backend postgres/both (two databases are created and "
                             "dropped); default STRANGLER_TEST_PG_URL")
    figures.add_json_option(parser)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in backends and not args.pg_url:
        if args.backend == "postgres":
            parser.error("--backend postgres needs --pg-url or STRANGLER_TEST_PG_URL")
        print("PostgreSQL skipped: no --pg-url or STRANGLER_TEST_PG_URL", flush=True)
        backends.remove("postgres")
    out: list[dict] = []
    safe = all([bench(backend, args, out) for backend in backends])  # noqa: C419 - every backend runs, even after a failure
    figures.write(args.json, "bench_write_safety", out)
    return 0 if safe else 1


if __name__ == "__main__":
    sys.exit(main())
