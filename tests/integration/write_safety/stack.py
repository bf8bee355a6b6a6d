"""The whole demo stack for the write-safety scenario, on free loopback ports: the monolith under gunicorn, the
catalog service under uvicorn, the façade (mitmdump + the kit's addons, serving a copy of config/routes.yaml)
and the catalog data sync as its own `strangler migrate sync` process — each one killable and restartable.

Both databases carry an audit trigger (table _ws_audit) besides the kit's change capture: it records every
row written to the products tables with its time and whether the kit's sync applier wrote it, so the suite
can prove that no write reached a database that did not own writes at that moment except through the sync.
Used by tests/integration/write_safety and by load/bench_write_safety.py.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text

from proxy.table import parse_table
from strangler.migrate import capture
from strangler.migrate.db import ensure_bookkeeping, find_columns, open_engine, reflect_table
from strangler.migrate.engine import backfill
from strangler.migrate.feature import open_feature
from strangler.migrate.ownership import ownership_path, record_backfill
from strangler.procs import free_port, spawn, stop, wait_http
from tests.identity_auth import IDENTITY_KEY
from tests.integration.migrate.conftest import CONFIG, ROOT, Databases, _pg_databases, _pg_drop, seed_legacy
from tests.integration.migrate.conftest import strangler as strangler_cli
from tests.integration.proxy.facade_stack import facade_argv

SHADOW_KEY = "write-safety-shadow-key-0123456789"
ADMIN_TOKEN = "write-safety-admin-token-0123456789"
AUDIT = "_ws_audit"
# (side, table, key column) of the rows the scenario writes
AUDITED = {"legacy": ("PRODUCTS", "PROD_ID"), "service": ("products", "id")}


@contextlib.contextmanager
def databases(backend: str, tmp: Path, pg_base: str | None = None) -> Iterator[Databases]:
    """Legacy + catalog databases (SQLite files, or two fresh PostgreSQL databases dropped afterwards)."""
    if backend == "sqlite":
        yield Databases(backend, f"sqlite:///{tmp}/legacy.db", f"sqlite:///{tmp}/catalog.db", tmp / "var")
        return
    if not pg_base:
        raise ValueError("PostgreSQL needs a base URL (e.g. postgresql+psycopg://root@127.0.0.1:5432/test)")
    (legacy, catalog), handle = _pg_databases(pg_base, 2)
    try:
        yield Databases(backend, legacy, catalog, tmp / "var")
    finally:
        _pg_drop(handle)


def _install_audit(engine, side: str) -> None:
    """An AFTER INSERT/UPDATE/DELETE trigger logging (key, op, time, via_sync) into _ws_audit."""
    reflected = reflect_table(engine, AUDITED[side][0])  # the name as the database spells it
    table, key = reflected.name, find_columns(reflected, [AUDITED[side][1]])[0].name
    quote = engine.dialect.identifier_preparer.quote
    ensure_bookkeeping(engine)  # _strangler_applying: the sync applier's mark the trigger reads
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"CREATE TABLE {AUDIT} (seq BIGSERIAL PRIMARY KEY, row_key TEXT, op CHAR(1), "
                              "at DOUBLE PRECISION, via_sync BOOLEAN)"))
            conn.execute(text(f"""CREATE OR REPLACE FUNCTION {AUDIT}_fn() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  INSERT INTO {AUDIT} (row_key, op, at, via_sync) VALUES (
    (CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END) ->> TG_ARGV[0], left(TG_OP, 1),
    extract(epoch from clock_timestamp()), coalesce(current_setting('strangler.applying', true), '') = 'on');
  RETURN NULL;
END $fn$"""))
            conn.execute(text(f"CREATE TRIGGER {AUDIT}_trg AFTER INSERT OR UPDATE OR DELETE ON {quote(table)} "
                              f"FOR EACH ROW EXECUTE FUNCTION {AUDIT}_fn('{key}')"))
            return
        conn.exec_driver_sql(f"CREATE TABLE {AUDIT} (seq INTEGER PRIMARY KEY AUTOINCREMENT, row_key TEXT, "
                             "op TEXT, at REAL, via_sync INTEGER)")
        now = "((julianday('now') - 2440587.5) * 86400.0)"
        for op, event, alias in (("I", "INSERT", "NEW"), ("U", "UPDATE", "NEW"), ("D", "DELETE", "OLD")):
            conn.exec_driver_sql(
                f"CREATE TRIGGER {AUDIT}_{op.lower()} AFTER {event} ON {quote(table)} BEGIN INSERT INTO {AUDIT} "
                f"(row_key, op, at, via_sync) VALUES ({alias}.{quote(key)}, '{op}', {now}, "
                "EXISTS (SELECT 1 FROM _strangler_applying)); END")


@dataclass
class WriteStack:
    dbs: Databases
    tmp: Path
    ports: dict[str, int]
    routes: Path
    procs: dict = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        """What every process and CLI call of the stack sees."""
        p = self.ports
        return {**self.dbs.env, "STRANGLER_SHADOW_KEY": SHADOW_KEY, "STRANGLER_ADMIN_TOKEN": ADMIN_TOKEN,
                "STRANGLER_IDENTITY_KEY": IDENTITY_KEY,  # config/routes.yaml's orders: identity: remote
                "STRANGLER_ROUTES_FILE": str(self.routes), "LEGACY_BASE_URL": f"http://127.0.0.1:{p['legacy']}",
                "STRANGLER_PORT_LEGACY": str(p["legacy"]), "STRANGLER_PORT_CATALOG": str(p["catalog"]),
                "STRANGLER_PORT_ORDERS": str(p["orders"]), "STRANGLER_ACTOR": "write-safety"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['facade']}"

    def _argv(self, name: str) -> list[str]:
        p = self.ports
        if name == "legacy":
            return [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--keep-alive",
                    "75", "--no-control-socket", "-b", f"127.0.0.1:{p['legacy']}", "legacy_monolith.wsgi:app"]
        if name == "catalog":
            return [sys.executable, "-m", "uvicorn", "new_services.catalog.main:app", "--host", "127.0.0.1",
                    "--port", str(p["catalog"]), "--log-level", "warning", "--no-access-log"]
        if name == "sync":
            return [sys.executable, "-m", "strangler", "migrate", "sync", "catalog", "--interval", "0.05",
                    "--health-port", str(p["sync"])]
        return facade_argv(p["legacy"], p["facade"], self.routes, p["admin"], self.tmp / "access.jsonl")

    def _spawn(self, name: str) -> None:
        self.procs[name] = spawn(self._argv(name), env=self.env, log_path=self.tmp / f"{name}.log", cwd=ROOT)

    def _ready(self, name: str) -> None:
        """Wait until `name` answers: its /healthz, or for the sync its first finished round."""
        if name == "sync":
            try:
                self.wait(lambda: (self.sync_health() or {}).get("rounds", 0) >= 1, "the sync's first round", 60)
            except AssertionError as exc:  # say whether it died or hangs, and what it logged
                log = (self.tmp / "sync.log").read_text(errors="replace")[-3000:]
                raise AssertionError(f"{exc} (sync exit code {self.procs['sync'].poll()}); sync.log tail:\n{log}"
                                     ) from None
            return
        port = self.ports["admin" if name == "facade" else name]
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=40, proc=self.procs[name],
                  log_path=self.tmp / f"{name}.log")

    def start(self, *names: str) -> None:
        """Spawn every process named at once, then wait for each: none needs another to start (the façade's
        admin port answers without its upstreams, the sync only needs the databases), so the start-ups overlap."""
        for name in names:
            self._spawn(name)
        for name in names:
            self._ready(name)

    def start_catalog(self) -> None:
        self.start("catalog")

    def start_sync(self) -> None:
        self.start("sync")

    def serves_from_target(self) -> bool:
        """A read through the façade comes from the catalog service (in `new`: its breaker let it through)."""
        try:
            return httpx.get(f"{self.url}/api/products/1", timeout=5).headers.get("X-Served-By") == "catalog"
        except httpx.HTTPError:
            return False

    def kill(self, name: str) -> None:
        """SIGKILL the process group: no clean shutdown, no last round, no flushed buffers."""
        proc = self.procs[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        """Stop every process, all at once (each SIGTERM and its grace run in their own thread)."""
        procs = [self.procs.pop(name) for name in ("facade", "sync", "catalog", "legacy") if name in self.procs]
        with ThreadPoolExecutor(max_workers=len(procs) or 1) as pool:
            list(pool.map(stop, procs))

    def sync_health(self) -> dict | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.ports['sync']}/healthz", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return None

    @staticmethod
    def wait(predicate, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.05)

    def flip(self, to: str, percent: float | None = None) -> None:
        """Through the façade's admin API (the same gates as `strangler flip`; live on return)."""
        body = {"feature": "catalog", "to": to, "reason": "write-safety scenario"}
        if percent is not None:
            body["percent"] = percent
        r = httpx.post(f"http://127.0.0.1:{self.ports['admin']}/flip", json=body, timeout=30,
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 200, f"flip to {to} refused: {r.status_code} {r.text}"

    def handover(self, writes: str) -> str:
        done = self.cli("migrate", "handover", "catalog", "--writes", writes, "--timeout", "60")
        return done.stdout.strip()

    def cli(self, *args: str, check: bool = True):
        return strangler_cli(*args, env=self.env, check=check, timeout=120)

    def engines(self):
        return open_engine(self.dbs.legacy_url), open_engine(self.dbs.catalog_url)


def prepare_data(dbs: Databases, products: int) -> None:
    """Seed legacy, install change capture on both sides, backfill, add the audit triggers (in-process); SQLite
    files are left in WAL mode. Why: the monolith and the service switch their file to WAL when they connect, which
    needs the file to themselves; started at once with the sync (which polls both files), the switch met the
    sync's lock and the service exited with 'database is locked' (bench_write_safety, load ~9)."""
    seed_legacy(dbs.legacy_url, products)
    runtime = open_feature(CONFIG, "catalog", dbs.var_dir)
    try:
        capture.install(runtime.source, runtime.capture_specs("legacy"))
        runtime.create_target_tables()
        capture.install(runtime.target, runtime.capture_specs("service"))
        reports = [backfill(m, runtime.source, runtime.target, feature="catalog") for m in runtime.mappings]
        record_backfill(ownership_path(dbs.var_dir), "catalog", {r.source_table: r.written for r in reports})
        _install_audit(runtime.source, "legacy")
        _install_audit(runtime.target, "service")
        for engine in (runtime.source, runtime.target):
            if engine.dialect.name == "sqlite":  # as the monolith and the service leave them after their first start
                with contextlib.closing(sqlite3.connect(engine.url.database, timeout=30)) as conn:
                    conn.execute("PRAGMA journal_mode=WAL")  # not through the engine: it is always in a transaction
    finally:
        runtime.dispose()


def _demo_routes(timeout_s: float = 5.0) -> str:
    """config/routes.yaml with a shorter upstream timeout for legacy and catalog (a handover waits for the old
    owner's timeout + 1 s of quiet: a write sent before the flip may still be in flight), a catalog breaker
    that re-probes after 1 s instead of 5 (the scenario waits for it after restarting the service) and no
    promotion or automatic-rollback limits for catalog. The result is parsed and checked, so a change of
    config/routes.yaml that one of these edits no longer matches fails here, not half-way through the scenario."""
    text = (ROOT / "config" / "routes.yaml").read_text(encoding="utf-8")
    breaker = "breaker: {failure_threshold: 5, open_seconds: 5}"
    assert text.index(breaker) > text.index("STRANGLER_PORT_CATALOG"), "catalog's breaker moved in config/routes.yaml"
    text = text.replace(breaker, "breaker: {failure_threshold: 5, open_seconds: 1}", 1)
    # No automatic rollback: the scenario SIGKILLs the service on purpose, and with more than min_samples writes
    # in flight (bench_write_safety's sizes) the façade stepped `new` back to canary on its own, so the scripted
    # `flip retired` was refused. The states are the scenario's to drive; parity evidence is not tested here.
    rollback = re.search(r"^( +)rollback: \{[^}\n]*\}[^\n]*\n", text, re.M)  # catalog's (the first feature)
    assert rollback is not None, "no rollback line for catalog in config/routes.yaml"
    indent = rollback.group(1)
    text = (f"{text[:rollback.start()]}{indent}rollback: {{max_error_rate: null, min_samples: 200}}\n"
            f"{indent}promote: {{min_samples: 0, max_diff_rate: null, max_error_rate: null}}"
            f"  # writes are tested here, not parity evidence\n{text[rollback.end():]}")
    for name in ("LEGACY", "CATALOG"):
        url = f'url: "http://127.0.0.1:${{STRANGLER_PORT_{name}:-'
        at = text.index(url)
        end = text.index("\n", at)
        text = f"{text[:end]}\n    timeout_s: {timeout_s}{text[end:]}"
    catalog = parse_table(text).features["catalog"]
    limits = catalog.rollback
    assert (catalog.promote.min_samples, catalog.promote.max_diff_rate, catalog.promote.max_error_rate) == \
        (0, None, None), f"catalog's promotion limits still set: {catalog.promote}"
    assert limits.max_diff_rate is limits.max_error_rate is limits.max_status_change_rate is limits.max_p95_ms \
        is None, f"catalog's rollback limits still set: {limits}"
    return text


@contextlib.contextmanager
def write_stack(dbs: Databases, tmp: Path, products: int = 40) -> Iterator[WriteStack]:
    """Everything up and healthy with the feature in `legacy` and the forward sync running; always stopped."""
    for key, value in dbs.env.items():
        os.environ[key] = value  # the in-process backfill reads the same variables as the CLI
    prepare_data(dbs, products)
    routes = tmp / "routes.yaml"
    routes.write_text(_demo_routes(), encoding="utf-8")
    stack = WriteStack(dbs=dbs, tmp=tmp, routes=routes,
                       ports={n: free_port() for n in ("legacy", "catalog", "orders", "facade", "admin", "sync")})
    try:
        stack.start("legacy", "catalog", "sync", "facade")
        yield stack
    finally:
        stack.stop_all()
