"""Benchmark: the write-safety scenario (tests/integration/write_safety), longer and bigger, on SQLite and PostgreSQL.

    .venv/bin/python load/bench_write_safety.py [--clients 8] [--writes 10] [--rounds 2] [--products 500]
                                                [--backend sqlite|postgres|both]
                                                [--pg-url postgresql+psycopg://root@127.0.0.1:5432/test]
                                                [--unsafe-runs 2] [--json FILE]

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

Then, UNSAFE_RUNS times each (tests/integration/dry_run: a third-party FastAPI app behind a real façade in
`shadow`, `dry_run_writes: true`), the time from the first unsafe dry-run answer to the target being marked
unsafe (from the shadow worker reading the answer to the verdict committed in the parity store, as the façade
logs it; copies stop at once, before that write): a target that ignores
the protocol (its probe answer is the unsafe one), and a target that proved itself and was then redeployed
without the adapter (its first write copy's answer is). Exit 1 too when such a target is not marked unsafe.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scenario lives with the suite it extends

from load import figures
from tests.integration.dry_run.conftest import (
    committed_delay_ms,
    loans_stack,
    post_loan,
    prove_then_redeploy,
    target_state,
    wait_for,
)
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


def _ignored(tmp: Path) -> float:
    with loans_stack(tmp, "loans_app:app", state="shadow") as stack:
        post_loan(stack, "first")
        wait_for(lambda: target_state(stack).get("state") == "unsafe", "the target to be marked unsafe")
        return committed_delay_ms(stack)


def _redeployed(tmp: Path) -> float:
    with loans_stack(tmp, "loans_adapted:app", state="legacy") as stack:
        prove_then_redeploy(stack)
        return committed_delay_ms(stack)


def bench_unsafe(runs: int, out: list[dict]) -> bool:
    """Per case, `runs` stacks: ms from the first unacknowledged answer to the stored unsafe verdict."""
    if runs == 0:
        return True
    for case, measure in (("target ignoring dry-run (probe answer)", _ignored),
                          ("target redeployed without the adapter (write answer)", _redeployed)):
        delays = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix="bench-ws-unsafe-") as tmp:
                try:
                    delays.append(measure(Path(tmp)))
                except AssertionError as exc:
                    print(f"{case}: {exc}", flush=True)
                    return False
        print(f"{case}: first unsafe answer -> unsafe verdict committed: {', '.join(f'{d:.1f}' for d in delays)} "
              f"ms ({runs} runs); load average {os.getloadavg()[0]:.2f}", flush=True)
        out.append(figures.figure(f"{case}: first unsafe answer -> marked unsafe, median of {runs}",
                                  round(statistics.median(delays), 1), "ms"))
    return True


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
    parser.add_argument("--unsafe-runs", type=int, default=2, choices=range(11), metavar="0-10",
                        help="stacks per dry-run case timing the unsafe verdict (0: skip)")
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
    safe = bench_unsafe(args.unsafe_runs, out) and safe
    figures.write(args.json, "bench_write_safety", out)
    return 0 if safe else 1


if __name__ == "__main__":
    sys.exit(main())
