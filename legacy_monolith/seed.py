"""Deterministic demo data: the same rows on every run (fixed RNG seed, fixed base date), bulk-inserted.

Idempotent: a table that already has rows is left alone, so re-running inserts nothing. Stock is generated
consistent with the orders: QTY_RSRVD equals the quantities of open (N/P) order lines in that warehouse.
Customers are customer{CustomerId}@example.com; all share ONE password, LEGACY_SEED_PASSWORD, hashed once and
reused (a scrypt hash per customer would make seeding minutes long). Unset, the seeded customers cannot log in.
"""
from __future__ import annotations

import os
import random
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Table, func, select
from werkzeug.security import generate_password_hash

from legacy_monolith.conventions import LEGACY_DATE_FORMAT, load_zone
from legacy_monolith.db import init_db, load_models, reset_sequences, writer
from legacy_monolith.inventory.models import REFERENCE_WAREHOUSES

DEFAULT_RNG_SEED = 20_240_101
BASE_DATE = datetime(2021, 1, 4, 9, 0)  # legacy local time; every timestamp is an offset from it
SPAN_MINUTES = 3 * 365 * 24 * 60
CATEGORIES = ("TOOLS", "GARDEN", "KITCHEN", "TOYS", "BOOKS", "ELEC", "SPORT", "BEAUTY")
ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Heavy-Duty", "Mini", "Pro", "Smart", "Travel", "Vintage")
NOUNS = ("Hammer", "Kettle", "Lamp", "Drill", "Planter", "Puzzle", "Novel", "Racket", "Brush", "Speaker",
         "Blender", "Tent", "Clock", "Mixer", "Saw", "Trowel")
FIRST_NAMES = ("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Emily", "Leo",
               "Grace", "Arthur", "Sophia", "Oscar", "Lily", "Muhammad", "Freya", "Alfie", "Ella")
LAST_NAMES = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Wright",
              "Robinson", "Walker", "Thompson", "Evans", "Khan", "Green", "Hughes", "Clarke", "Hall", "Wood")
STATUS_WEIGHTS = {"N": 8, "P": 8, "S": 12, "D": 57, "C": 15}
PASSWORD_ENV = "LEGACY_SEED_PASSWORD"


def seed_email(customer_id: int) -> str:
    """The seeded customers' login: a pattern a load mix can draw (customer{n}@example.com)."""
    return f"customer{customer_id}@example.com"


@dataclass
class SeedData:
    products: list[dict[str, Any]] = field(default_factory=list)
    customers: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    stock: list[dict[str, Any]] = field(default_factory=list)


def _stamp(minutes: int) -> str:
    """A legacy local timestamp. A real clock never shows the wall time the zone skips in spring, so neither
    does the seed: such a time moves past the gap (ambiguous autumn times stay, as real data has them)."""
    moment = BASE_DATE + timedelta(minutes=minutes)
    zone = _zone()
    if moment.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment:
        moment += timedelta(hours=1)
    return moment.strftime(LEGACY_DATE_FORMAT)


@lru_cache(maxsize=4)
def _zone(name: str | None = None) -> ZoneInfo:
    return load_zone(name or os.environ.get("LEGACY_TZ", "Europe/London"))


def generate(products: int, customers: int, orders: int, rng_seed: int = DEFAULT_RNG_SEED,
             password_hash: str | None = None) -> SeedData:
    """All rows as dicts keyed by legacy column name; a pure function of its arguments."""
    rng = random.Random(rng_seed)
    data = SeedData()
    prices: list[Decimal] = []
    for pid in range(1, products + 1):
        created = rng.randrange(SPAN_MINUTES // 2)
        price = Decimal(rng.randrange(99, 50_000)) / 100
        prices.append(price)
        data.products.append({
            "PROD_ID": pid, "PROD_SKU": f"SKU-{pid:06d}", "CAT_CD": CATEGORIES[rng.randrange(len(CATEGORIES))],
            "PROD_NM": f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.randrange(100, 999)}",
            "PROD_DESC": None if rng.random() < 0.2 else f"Item {pid} of the demo catalogue.",
            "UNIT_PRC": price, "ACTV_FLG": "N" if rng.random() < 0.03 else "Y",
            "CRT_DT": _stamp(created), "UPD_DT": _stamp(created + rng.randrange(SPAN_MINUTES // 2)),
        })
    for cid in range(1, customers + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        data.customers.append({
            "CUST_ID": cid, "CUST_EMAIL": seed_email(cid), "CUST_FNM": first, "PWD_HASH": password_hash,
            "CUST_LNM": last, "CUST_PHONE": None if rng.random() < 0.3 else f"+44 7{rng.randrange(10**8, 10**9)}",
            "VIP_FLG": "Y" if rng.random() < 0.05 else "N", "CRT_DT": _stamp(rng.randrange(SPAN_MINUTES // 3)),
        })
    warehouses = [code for code, _ in REFERENCE_WAREHOUSES]
    reserved: dict[tuple[int, str], int] = defaultdict(int)
    order_minutes = sorted(rng.randrange(SPAN_MINUTES // 3, SPAN_MINUTES) for _ in range(orders))
    statuses, weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    for oid, minute in enumerate(order_minutes, start=1):
        status = rng.choices(statuses, weights)[0]
        total = Decimal("0")
        picked = rng.sample(range(1, products + 1), k=min(products, rng.randint(1, 5))) if products else []
        for line_no, pid in enumerate(picked, start=1):
            qty, wh = rng.randint(1, 5), rng.choice(warehouses)
            total += prices[pid - 1] * qty
            if status in ("N", "P"):
                reserved[(pid, wh)] += qty
            data.lines.append({"ORD_ID": oid, "LN_NO": line_no, "PROD_ID": pid, "WH_CD": wh, "QTY": qty,
                               "UNIT_PRC": prices[pid - 1]})
        data.orders.append({"ORD_ID": oid, "CUST_ID": rng.randint(1, customers) if customers else 0,
                            "ORD_STS": status, "ORD_DT": _stamp(minute), "ORD_TOT": float(total)})
    for pid in range(1, products + 1):
        sold_out = rng.random() < 0.03
        for wh in warehouses:
            held = reserved[(pid, wh)]
            data.stock.append({"PROD_ID": pid, "WH_CD": wh, "QTY_RSRVD": held,
                               "QTY_ON_HND": held + (0 if sold_out else rng.randint(0, 150))})
    return data


def _count(conn: Any, table: Table) -> int:
    return conn.execute(select(func.count()).select_from(table)).scalar_one()


def seed(engine: Engine, products: int, customers: int, orders: int,
         rng_seed: int = DEFAULT_RNG_SEED, batch: int = 5_000, password: str | None = None) -> dict[str, int]:
    """Create the schema and insert the demo rows into every EMPTY table; returns rows inserted per table.
    `password` (default: $LEGACY_SEED_PASSWORD) is every seeded customer's; none: they cannot log in."""
    if orders and not (products and customers):
        raise ValueError("orders need at least one product and one customer")
    init_db(engine)
    tables = load_models().tables
    names = ("PRODUCTS", "CUSTOMERS", "STOCK", "ORDERS", "ORD_LINES")
    inserted: dict[str, int] = dict.fromkeys(names, 0)
    with writer(engine).begin() as conn:
        empty = {name for name in names if not _count(conn, tables[name])}
        if not empty:
            return inserted
        password = password or os.environ.get(PASSWORD_ENV) or None
        hashed = generate_password_hash(password) if password and "CUSTOMERS" in empty else None  # ONE hash
        data = generate(products, customers, orders, rng_seed, hashed)
        plan = [("PRODUCTS", data.products), ("CUSTOMERS", data.customers), ("STOCK", data.stock),
                ("ORDERS", data.orders), ("ORD_LINES", data.lines)]
        for name, rows in plan:
            table = tables[name]
            if name not in empty:
                continue
            for start in range(0, len(rows), batch):
                conn.execute(table.insert(), rows[start:start + batch])
            inserted[name] = len(rows)
    reset_sequences(engine)
    return inserted


def run_seed(engine: Engine, products: int, customers: int, orders: int, rng_seed: int) -> dict[str, int]:
    started = time.perf_counter()
    inserted = seed(engine, products, customers, orders, rng_seed)
    elapsed = time.perf_counter() - started
    counts = ", ".join(f"{name}={count}" for name, count in inserted.items())
    verdict = "nothing to do (already seeded)" if not any(inserted.values()) else "inserted"
    print(f"seed: {verdict}: {counts} in {elapsed:.2f}s")
    if inserted["CUSTOMERS"] and not os.environ.get(PASSWORD_ENV):
        print(f"seed: note: {PASSWORD_ENV} is not set, so the seeded customers cannot log in. Fix: set it "
              "(a per-install secret of config/stack.yaml) and seed an empty database", file=sys.stderr)
    return inserted
