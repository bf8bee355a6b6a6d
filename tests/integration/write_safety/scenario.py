"""The write-safety scenario: client threads create and update products through the façade while the main
thread moves the catalog feature through every state, hands writes over and back, and kills the sync and the
service; then every acknowledged write is looked up in both databases.

Pacing is by counts, not by clocks: each client may run `per_phase` writes per phase, and the driver takes the
next step once half of the current phase's writes are done — so every step happens while writes are in flight,
and the total number of writes is fixed (clients × per_phase × (steps + 1)).
"""
from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
from sqlalchemy import select

from strangler.migrate.db import reflect_table
from tests.integration.write_safety.stack import AUDIT, AUDITED, WriteStack

WAIT_S = 120.0  # the longest any client or the driver waits for the other


def _handover(writes: str) -> Callable[[WriteStack], None]:
    return lambda s: s.handover(writes)


def _restart_service(stack: WriteStack) -> None:
    """Start it again and wait until the façade's breaker lets requests through (reads in `new` say so)."""
    stack.start_catalog()
    stack.wait(stack.serves_from_target, "the façade to reach the restarted catalog service")


# One cycle through every state, with a handover each way and a killed sync and service in between.
CYCLE: list[tuple[str, Callable[[WriteStack], None]]] = [
    ("flip shadow", lambda s: s.flip("shadow")),
    ("flip canary 50", lambda s: s.flip("canary", 50)),
    ("flip new", lambda s: s.flip("new")),
    ("SIGKILL sync", lambda s: s.kill("sync")),
    ("restart sync", lambda s: s.start_sync()),
    ("handover writes → service", _handover("service")),
    ("SIGKILL catalog service", lambda s: s.kill("catalog")),
    ("restart catalog service", _restart_service),
    ("flip retired", lambda s: s.flip("retired")),
    ("flip new", lambda s: s.flip("new")),
    ("flip canary 50", lambda s: s.flip("canary", 50)),
    ("handover writes → legacy", _handover("legacy")),
    ("flip legacy", lambda s: s.flip("legacy")),
]


@dataclass
class Outcome:
    client: int
    n: int
    kind: str            # create | update
    sku: str | None      # creates
    product_id: int | None
    name: str            # the unique marker
    price: Decimal
    status: int = 0      # 0: no HTTP answer (connection error, timeout)
    served_by: str = ""
    started: float = 0.0
    ended: float = 0.0

    @property
    def acked(self) -> bool:
        return 200 <= self.status < 300

    @property
    def ambiguous(self) -> bool:
        """The outcome is unknown to the client: it may or may not have committed."""
        return self.status == 0 or self.status >= 500


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    steps: list[tuple[str, float, float]] = field(default_factory=list)  # name, started, ended (time.time)
    seconds: float = 0.0


class _Aborted(Exception):
    """The scenario stopped (a stall, a failed step or a failed client): every thread leaves."""


class _Pace:
    """The phase counter the driver advances and the count of finished writes the clients advance."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.phase = 0
        self.done = 0
        self.error: str | None = None

    def abort(self, error: str) -> None:
        with self.cond:
            self.error = self.error or error
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], what: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: predicate() or self.error is not None, timeout=WAIT_S)
            if self.error is None and not predicate():
                self.error = f"write-safety scenario stalled for {WAIT_S:.0f}s waiting for {what}"
                self.cond.notify_all()
            if self.error is not None:
                raise _Aborted(self.error)

    def bump(self, attr: str) -> None:
        with self.cond:
            setattr(self, attr, getattr(self, attr) + 1)
            self.cond.notify_all()


def _client(stack: WriteStack, client: int, clients: int, total: int, per_phase: int, seed_products: int,
            pace: _Pace, out: list[Outcome]) -> None:
    try:
        _writes(stack, client, clients, total, per_phase, seed_products, pace, out)
    except _Aborted:
        pass
    except Exception as exc:  # noqa: BLE001 - any client failure stops the scenario with its reason
        pace.abort(f"client {client} failed: {exc!r}")


def _writes(stack: WriteStack, client: int, clients: int, total: int, per_phase: int, seed_products: int,
            pace: _Pace, out: list[Outcome]) -> None:
    rng = random.Random(client)
    own_seed = [pid for pid in range(1, seed_products + 1) if pid % clients == client]
    created: list[int] = []
    with httpx.Client(base_url=stack.url, timeout=15) as http:
        for n in range(total):
            pace.wait_for(lambda n=n: pace.phase >= n // per_phase, f"phase {n // per_phase}")
            name, price = f"ws-{client}-{n}", Decimal(f"{client * 10000 + n + 1}.{n % 100:02d}")
            headers = {"X-Strangler-Cohort": f"ws-{client}-{n}"}  # spreads canary requests over both sides
            if n % 2 == 0 or not (created or own_seed):
                item = Outcome(client, n, "create", f"WS-{client}-{n}", None, name, price)
                call = lambda: http.post("/api/products", headers=headers, json={  # noqa: B023 - called below
                    "Sku": item.sku, "Name": name, "Category": "TOOLS", "UnitPrice": str(price)})  # noqa: B023
            elif n % 8 == 7 and created:
                target = rng.choice(created)
                item = Outcome(client, n, "deactivate", None, target, "", Decimal(0))
                call = lambda: http.post(f"/api/products/{target}/deactivate", headers=headers)  # noqa: B023
            else:
                target = rng.choice(created) if created and (n % 4 == 1 or not own_seed) else rng.choice(own_seed)
                item = Outcome(client, n, "update", None, target, name, price)
                call = lambda: http.put(f"/api/products/{target}", headers=headers,  # noqa: B023
                                        json={"Name": name, "UnitPrice": str(price)})  # noqa: B023
            item.started = time.time()
            try:
                response = call()
                item.status, item.served_by = response.status_code, response.headers.get("X-Served-By", "")
                if item.kind == "create" and item.acked:
                    with contextlib.suppress(ValueError, KeyError, TypeError):  # no id: reconcile reports it
                        item.product_id = int(response.json()["ProductId"])
                        created.append(item.product_id)
            except httpx.HTTPError:
                item.status = 0
            item.ended = time.time()
            out.append(item)
            pace.bump("done")


def run_scenario(stack: WriteStack, *, clients: int, per_phase: int, seed_products: int,
                 steps: list[tuple[str, Callable[[WriteStack], None]]]) -> Run:
    pace, run = _Pace(), Run()
    total = per_phase * (len(steps) + 1)
    started = time.monotonic()
    threads = [threading.Thread(target=_client, name=f"ws-client-{c}", daemon=True,
                                args=(stack, c, clients, total, per_phase, seed_products, pace, run.outcomes))
               for c in range(clients)]
    for thread in threads:
        thread.start()
    try:
        for index, (name, step) in enumerate(steps):
            pace.wait_for(lambda i=index: pace.done >= int((i + 0.5) * clients * per_phase), f"writes before {name}")
            began = time.time()
            step(stack)
            run.steps.append((name, began, time.time()))
            pace.bump("phase")
    except _Aborted:
        pass  # pace.error says why; raised below once the clients are gone
    except BaseException as exc:
        pace.abort(f"step failed: {exc}")
        raise
    finally:
        for thread in threads:
            thread.join(timeout=WAIT_S)
    if pace.error is not None:
        raise AssertionError(pace.error)
    run.seconds = time.monotonic() - started
    return run


def owner_windows(run: Run) -> dict[str, list[tuple[float, float]]]:
    """Per side, the time spans in which it may take writes directly: its ownership, plus each handover's
    own span for both sides (a write already on its way to the old owner when the flip happens is legal;
    the handover's drain carries it over)."""
    windows: dict[str, list[tuple[float, float]]] = {"legacy": [], "service": []}
    owner, since = "legacy", float("-inf")
    for name, began, ended in run.steps:
        if name.startswith("handover writes → "):
            new = name.rsplit(" ", 1)[-1]
            windows[owner].append((since, ended))  # the old owner until the handover has finished
            owner, since = new, began                # the new one from the moment it started
    windows[owner].append((since, float("inf")))
    return windows


@dataclass
class Counts:
    acknowledged: int = 0
    found: int = 0
    lost: int = 0
    duplicated: int = 0
    foreign: int = 0            # rows written directly (not by the sync) into the side that did not own writes
    non_2xx: Counter = field(default_factory=Counter)
    served_by: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        return not self.problems and self.lost == self.duplicated == self.foreign == 0

    def line(self, backend: str, run: Run, writes: int) -> str:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(self.non_2xx.items())) or "none"
        served = ", ".join(f"{k or '?'}: {v}" for k, v in sorted(self.served_by.items()))
        return (f"write-safety [{backend}]: {writes} writes, acknowledged {self.acknowledged} / found {self.found}"
                f" / lost {self.lost} / duplicated {self.duplicated}; foreign direct writes {self.foreign}; "
                f"non-2xx by status and X-Served-By: {statuses}; acknowledged served by: {served}; {run.seconds:.1f}s, "
                f"{writes / run.seconds if run.seconds else 0:.0f} writes/s")


def _rows(engine, side: str) -> dict[int, tuple[str, str, Decimal, bool]]:
    """id → (sku, name, price, active) of every product on one side."""
    table = reflect_table(engine, AUDITED[side][0])
    cols = {c.name.lower(): c for c in table.columns}
    if side == "legacy":
        query = select(cols["prod_id"], cols["prod_sku"], cols["prod_nm"], cols["unit_prc"], cols["actv_flg"])
        convert = lambda r: (r[1], r[2], Decimal(str(r[3])).quantize(Decimal("0.01")), r[4] == "Y")
    else:
        query = select(cols["id"], cols["sku"], cols["name"], cols["price_minor"], cols["status"])
        convert = lambda r: (r[1], r[2], (Decimal(r[3]) / 100).quantize(Decimal("0.01")),
                             r[4] == "active")
    with engine.connect() as conn:
        return {int(r[0]): convert(r) for r in conn.execute(query)}


def _direct_writes(engine) -> list[tuple[str, str, float]]:
    """(key, op, at) of every audited write the sync applier did not make."""
    table = reflect_table(engine, AUDIT)
    with engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            select(table.c.row_key, table.c.op, table.c.at).where(~table.c.via_sync.is_(True))
            if engine.dialect.name == "postgresql" else
            select(table.c.row_key, table.c.op, table.c.at).where(table.c.via_sync == 0))]


def reconcile(stack: WriteStack, run: Run) -> Counts:
    """Every acknowledged write, looked up on both sides; direct writes checked against ownership."""
    counts = Counts()
    legacy_engine, service_engine = stack.engines()
    try:
        sides = {"legacy": _rows(legacy_engine, "legacy"), "service": _rows(service_engine, "service")}
        direct = {"legacy": _direct_writes(legacy_engine), "service": _direct_writes(service_engine)}
    finally:
        legacy_engine.dispose()
        service_engine.dispose()
    by_sku = {side: Counter(row[0] for row in rows.values()) for side, rows in sides.items()}
    for item in run.outcomes:
        if not item.acked:
            counts.non_2xx[f"{item.status or 'no answer'} {item.served_by or '?'}"] += 1
            if item.status == 500:  # never an answer of ours: busy is 503 DATABASE_BUSY, a dead upstream 502
                counts.problems.append(f"{item.kind} {item.sku or item.product_id} answered 500 (served by "
                                       f"{item.served_by or '?'})")
            continue
        counts.acknowledged += 1
        counts.served_by[item.served_by] += 1
        if item.kind == "create":
            held = {side: rows.get(item.product_id, (None,))[0] for side, rows in sides.items()}
            copies = max(by_sku[side][item.sku] for side in sides)
            if copies > 1:
                counts.duplicated += 1
                counts.problems.append(f"create {item.sku}: {copies} rows with this SKU on one side")
            elif all(sku == item.sku for sku in held.values()):
                counts.found += 1
            else:
                counts.lost += 1
                counts.problems.append(f"create {item.sku} acknowledged as ProductId {item.product_id} "
                                       f"(served by {item.served_by}); that id holds {held}")
    _check_updates(run, sides, counts)
    for item in run.outcomes:  # nothing re-activates a product: one acknowledged deactivation is final
        if item.kind == "deactivate" and item.acked:
            active = {side: rows.get(item.product_id, (None, None, None, None))[3] for side, rows in sides.items()}
            if all(value is False for value in active.values()):
                counts.found += 1
            else:
                counts.lost += 1
                counts.problems.append(f"deactivation of ProductId {item.product_id} acknowledged (served by "
                                       f"{item.served_by}); active on each side: {active}")
    windows = owner_windows(run)
    for side, writes in direct.items():
        for key, op, at in writes:
            if not any(start <= at <= end for start, end in windows[side]):
                counts.foreign += 1
                if counts.foreign <= 10:
                    counts.problems.append(f"{side} took a direct write ({op} key {key}) at {at:.3f} while it did "
                                           "not own the catalog's writes")
    return counts


def _check_updates(run: Run, sides: dict, counts: Counts) -> None:
    """The last acknowledged update of each product is what both sides hold (or a later attempt whose outcome
    the client could not know); earlier acknowledged updates were legitimately overwritten."""
    attempts: dict[int, list[Outcome]] = {}
    for item in sorted((o for o in run.outcomes if o.kind == "update"), key=lambda o: o.started):
        attempts.setdefault(item.product_id, []).append(item)
    for product_id, items in attempts.items():
        acked = [i for i, item in enumerate(items) if item.acked]
        if not acked:
            continue
        last = acked[-1]
        allowed = {(items[last].name, items[last].price)} | {
            (item.name, item.price) for item in items[last + 1:] if item.ambiguous}
        held = {side: rows.get(product_id, (None, None, None, None))[1:3] for side, rows in sides.items()}
        bad = {side: value for side, value in held.items() if value not in allowed}
        counts.found += len(acked) - (1 if bad else 0)
        if bad:
            counts.lost += 1
            counts.problems.append(f"update of ProductId {product_id}: last acknowledged {items[last].name} "
                                   f"{items[last].price} (served by {items[last].served_by}); sides hold {held}")


def settle_and_check(stack: WriteStack, run: Run) -> Counts:
    """Let the running sync catch up, run `strangler migrate verify catalog`, reconcile every write."""
    def health() -> dict:
        return stack.sync_health() or {}

    after = health().get("rounds", 0) + 2  # a round that started after the last write, then one more
    stack.wait(lambda: health().get("rounds", 0) >= after and health().get("pending") == 0, "the sync to catch up")
    verify = stack.cli("migrate", "verify", "catalog", "--json", check=False)
    counts = reconcile(stack, run)
    report = json.loads(verify.stdout or "{}")
    for table in report.get("tables") or []:
        if table.get("quarantined"):  # a quarantined row is not compared: it would hide a lost write
            counts.problems.append(f"{table['quarantined']} row(s) of {table.get('source_table')} quarantined: "
                                   f"{table.get('reasons')}")
    if verify.returncode != 0 or not report.get("ok"):
        for table in report.get("tables") or []:
            first = table.get("first_difference") or {}
            source, target = first.get("source") or {}, first.get("target") or {}
            fields = sorted(k for k in source.keys() | target.keys() if source.get(k) != target.get(k))
            counts.problems.append(f"migrate verify failed on {table.get('source_table')}: {table.get('differing')} "
                                   f"differing, {table.get('missing')} missing, {table.get('extra')} extra; first "
                                   f"difference (key {first.get('key')}) in {fields}: legacy {source} / service "
                                   f"{target}")
        if not report.get("tables"):
            counts.problems.append(f"migrate verify failed: {verify.stdout[-800:]}{verify.stderr[-800:]}")
    return counts
