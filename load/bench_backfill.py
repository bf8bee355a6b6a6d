"""Benchmark (not a test): backfill rows/s and peak memory, SQLite → SQLite and PostgreSQL → PostgreSQL.

    .venv/bin/python load/bench_backfill.py [--rows 200000] [--small 20000] [--batch-size 2000]
                                            [--pg-url postgresql+psycopg://root@127.0.0.1:5432/test] [--json FILE]

Legacy PRODUCTS rows are generated directly with SQL (fast, varied timestamps so the time-zone translation is
paid for every row). Each measured backfill runs in a fresh child process that reports its own peak RSS
(resource.getrusage ru_maxrss), once with --small rows and once with --rows: flat memory means the two peaks
are close. Source, target and the benchmark share the machine's cores (2 here) with anything else running, so
each line also shows the child's CPU seconds and the 1-minute load average: on a busy machine rows/s falls
while CPU seconds stay put.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from load import figures

DDL = """CREATE TABLE PRODUCTS (PROD_ID INTEGER PRIMARY KEY, PROD_SKU VARCHAR(20) UNIQUE, PROD_NM VARCHAR(120),
PROD_DESC TEXT, CAT_CD VARCHAR(10), UNIT_PRC NUMERIC(10,2), ACTV_FLG CHAR(1), CRT_DT VARCHAR(16),
UPD_DT VARCHAR(16))"""
ROWS_PER_S_TARGET = 20_000  # SQLite → SQLite on a 2-core machine
CATEGORIES = ["ELEC", "TOOLS", "TOYS", "KITCHEN", "GARDEN", "BOOKS"]


def _stamp(minutes: int) -> str:
    day, minute = divmod(minutes, 1440)
    start = time.gmtime(1577836800 + day * 86400)  # from 2020-01-01
    return f"{start.tm_mday:02d}/{start.tm_mon:02d}/{start.tm_year} {minute // 60:02d}:{minute % 60:02d}"


def _safe(minutes: int) -> int:
    """Skip 01:00-01:59 local, where spring-forward gaps live (such rows would be quarantined, not copied)."""
    return minutes + 60 if 60 <= minutes % 1440 < 120 else minutes


def generate(url: str, rows: int) -> None:
    from strangler.migrate.db import open_engine  # the kit's one engine set-up (SQLite pragmas, BEGIN)

    rng = random.Random(7)
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS PRODUCTS"))
        conn.execute(text(DDL))
        chunk = []
        for n in range(1, rows + 1):
            created = _safe(rng.randrange(4 * 365 * 1440))
            chunk.append({"a": n, "b": f"SKU-{n:08d}", "c": f"Product {n}", "d": None if n % 3 else f"About {n}",
                          "e": rng.choice(CATEGORIES), "f": f"{rng.randrange(1, 100000) / 100:.2f}",
                          "g": "Y" if n % 10 else "N", "h": _stamp(created),
                          "i": _stamp(_safe(created + rng.randrange(100000)))})
            if len(chunk) == 10_000:
                conn.execute(text("INSERT INTO PRODUCTS VALUES (:a,:b,:c,:d,:e,:f,:g,:h,:i)"), chunk)
                chunk = []
        if chunk:
            conn.execute(text("INSERT INTO PRODUCTS VALUES (:a,:b,:c,:d,:e,:f,:g,:h,:i)"), chunk)
    engine.dispose()


def child(source_url: str, target_url: str, batch_size: int) -> None:
    """Measured run: one backfill, then print rows/s and this process's peak RSS as JSON."""
    from acl.catalog.mapping import PRODUCTS
    from strangler.migrate.engine import backfill, open_engine

    source, target = open_engine(source_url), open_engine(target_url)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    report = backfill(PRODUCTS, source, target, batch_size=batch_size, feature="bench", restart=True)
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    print(json.dumps({"rows": report.read, "written": report.written, "quarantined": report.failed,
                      "seconds": round(elapsed, 2), "rows_per_s": round(report.read / elapsed),
                      "cpu_s": round(cpu, 2), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
                      "load_avg_1m": round(os.getloadavg()[0], 2)}))


def measure(source_url: str, target_url: str, batch_size: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", source_url, target_url, str(batch_size)],
                         capture_output=True, text=True, check=True, timeout=1800,
                         cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _pg_pair(base_url: str) -> tuple[list[str], Callable[[], None]]:
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    names = [f"strangler_bench_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    url = make_url(base_url)
    return [url.set(database=n).render_as_string(hide_password=False) for n in names], drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2000)  # = the engine's default
    parser.add_argument("--pg-url", default=os.environ.get("STRANGLER_TEST_PG_URL"),
                        help="PostgreSQL server URL (default $STRANGLER_TEST_PG_URL); omitted = SQLite only")
    figures.add_json_option(parser)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = [("sqlite → sqlite", None)] + ([("postgresql → postgresql", args.pg_url)] if args.pg_url else [])
        for label, pg in backends:
            for rows in (args.small, args.rows):
                drop = None
                if pg:
                    (source, target), drop = _pg_pair(pg)
                else:
                    source, target = f"sqlite:///{tmp}/legacy-{rows}.db", f"sqlite:///{tmp}/target-{rows}.db"
                try:
                    generate(source, rows)
                    result = measure(source, target, args.batch_size)
                finally:
                    if drop:
                        drop()
                results.append({"backend": label, **result})
                print(f"{label:24} rows={result['rows']:>8,}  {result['rows_per_s']:>8,} rows/s  "
                      f"{result['seconds']:>7.2f}s  cpu {result['cpu_s']:>6.2f}s  "
                      f"peak RSS {result['peak_rss_mb']:>6.1f} MB"
                      f"  load {result['load_avg_1m']:.2f}  (quarantined {result['quarantined']})", flush=True)
    for label in dict.fromkeys(r["backend"] for r in results):
        small, big = [r for r in results if r["backend"] == label]
        print(f"{label}: memory ratio {args.rows:,} vs {args.small:,} rows = "
              f"{big['peak_rss_mb'] / small['peak_rss_mb']:.2f}x (1.0 = flat); batch size {args.batch_size}; "
              "2 shared CPU cores")
    out = []
    for label in dict.fromkeys(r["backend"] for r in results):
        small, big = [r for r in results if r["backend"] == label]
        out += [figures.bounded(f"backfill {label}, {big['rows']:,} rows", big["rows_per_s"], "rows/s",
                                ROWS_PER_S_TARGET, digits=0) if label.startswith("sqlite") else
                figures.figure(f"backfill {label}, {big['rows']:,} rows", big["rows_per_s"], "rows/s"),
                figures.figure(f"peak memory {label}, {big['rows']:,} / {small['rows']:,} rows (1.0x = flat)",
                               round(big["peak_rss_mb"] / small["peak_rss_mb"], 2), "x")]
    figures.write(args.json, "bench_backfill", out)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
