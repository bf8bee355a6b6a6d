"""`python -m legacy_monolith init-db | seed [--products N --customers N --orders N]`."""
from __future__ import annotations

import argparse
import os
import sys

from legacy_monolith.db import DEFAULT_DATABASE_URL, init_db, make_engine
from legacy_monolith.seed import DEFAULT_RNG_SEED, run_seed


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {number}")
    return number


def _env_size(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return _non_negative(raw)
    except (ValueError, argparse.ArgumentTypeError):
        raise SystemExit(f"seed: error: {name}={raw!r} is not a whole number >= 0 — unset it or fix it") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m legacy_monolith", description="Legacy monolith admin tasks.")
    sub = parser.add_subparsers(dest="command", required=True)
    url_help = f"database URL (default: $LEGACY_DATABASE_URL or {DEFAULT_DATABASE_URL})"
    init = sub.add_parser("init-db", help="create the tables and reference warehouses (idempotent)")
    init.add_argument("--database-url", default=None, help=url_help)
    seed = sub.add_parser("seed", help="insert deterministic demo data into empty tables (idempotent)")
    seed.add_argument("--database-url", default=None, help=url_help)
    # Defaults can come from the environment so a stack file or a test can seed small without new flags.
    seed.add_argument("--products", type=_non_negative, default=_env_size("LEGACY_SEED_PRODUCTS", 2000),
                      help="default: $LEGACY_SEED_PRODUCTS or 2000")
    seed.add_argument("--customers", type=_non_negative, default=_env_size("LEGACY_SEED_CUSTOMERS", 1000),
                      help="default: $LEGACY_SEED_CUSTOMERS or 1000")
    seed.add_argument("--orders", type=_non_negative, default=_env_size("LEGACY_SEED_ORDERS", 20000),
                      help="default: $LEGACY_SEED_ORDERS or 20000")
    seed.add_argument("--rng-seed", type=int, default=DEFAULT_RNG_SEED, help="change only to get other data")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    url = args.database_url or os.environ.get("LEGACY_DATABASE_URL", DEFAULT_DATABASE_URL)
    engine = make_engine(url)
    try:
        if args.command == "init-db":
            init_db(engine)
            print(f"init-db: schema ready at {engine.url.render_as_string(hide_password=True)}")
        else:
            try:
                run_seed(engine, args.products, args.customers, args.orders, args.rng_seed)
            except ValueError as exc:
                print(f"seed: error: {exc}", file=sys.stderr)
                return 2
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
