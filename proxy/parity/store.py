"""The parity store: per feature / route / field counts, examples and a recent window, in SQLite (WAL, the
default: var/parity.db) or PostgreSQL (proxy/parity/pgstore.py, shared by several façades and the nginx
comparator). `open_store(path_or_url)` / `configured_store()` pick the backend; the API is the same.

Why this shape: `record()` runs on the façade's event loop for every shadowed request, so it only appends
to an in-memory batch (microseconds, never blocks, bounded: overflow is dropped and counted); a background
thread folds a batch into per-key rows and writes them in one transaction. Several processes (façades,
Locust workers, the CLI) may write the same store: additive upserts (n = n + excluded.n) taken in one
global key order keep that safe (WAL and a busy timeout in SQLite; row locks, no deadlock, in PostgreSQL).

Tables: routes (compared, noise samples, errors per feature+route), fields (raw and noise differences per
field), examples (up to N replayable exchanges per field; their id is the "mismatch id"), samples (the
last `window_keep` exchanges per feature: the source of diff rate / error rate / p95 for auto-rollback;
`detail` keeps each one's cause facts and ALL its differing fields, ignored ones included, so reports
re-apply the rules in force — proxy/parity/recent.py),
dry_run_targets (per upstream: has it proven it rolls shadowed writes back, or did it answer one without
the acknowledgement — proxy/shadow/safety.py; written at once, not batched, and kept by `reset`).
"""
from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from proxy.common.clock import stamp
from proxy.parity.noise import (
    FieldCounts,
    Thresholds,
    Verdict,
    ignore_suggestions,
    verdict,
)
from proxy.parity.normalise import Difference
from proxy.parity.redact import header_names
from proxy.parity.result import ComparisonResult

SCHEMA = """
CREATE TABLE IF NOT EXISTS routes (feature TEXT, route TEXT, compared INTEGER, noise_samples INTEGER,
  errors INTEGER, first_seen REAL, last_seen REAL, PRIMARY KEY (feature, route));
CREATE TABLE IF NOT EXISTS fields (feature TEXT, route TEXT, field TEXT, raw INTEGER, noise INTEGER,
  first_seen REAL, last_seen REAL, PRIMARY KEY (feature, route, field));
CREATE TABLE IF NOT EXISTS examples (id INTEGER PRIMARY KEY AUTOINCREMENT, feature TEXT, route TEXT, field TEXT,
  ts REAL, difference TEXT, request TEXT, reference TEXT, candidate TEXT, reference_url TEXT, candidate_url TEXT);
CREATE INDEX IF NOT EXISTS examples_field ON examples (feature, route, field);
CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY AUTOINCREMENT, feature TEXT, route TEXT, ts REAL,
  error INTEGER, latency_ms REAL, fields TEXT);
CREATE INDEX IF NOT EXISTS samples_feature ON samples (feature, id);
CREATE INDEX IF NOT EXISTS samples_route ON samples (feature, route, id);
CREATE TABLE IF NOT EXISTS dry_run_targets (upstream TEXT PRIMARY KEY, state TEXT, feature TEXT, url TEXT,
  reason TEXT, first_answer_at REAL, marked_at REAL);
CREATE TABLE IF NOT EXISTS recordings (id INTEGER PRIMARY KEY AUTOINCREMENT, feature TEXT, route TEXT,
  signature TEXT, ts REAL, method TEXT, path TEXT, status INTEGER, latency_ms REAL, truncated INTEGER,
  size INTEGER, request TEXT, response TEXT);
CREATE INDEX IF NOT EXISTS recordings_feature ON recordings (feature, id);
CREATE INDEX IF NOT EXISTS recordings_signature ON recordings (feature, signature, id);
CREATE TABLE IF NOT EXISTS record_cases (feature TEXT, signature TEXT, method TEXT, route TEXT, query_keys TEXT,
  body_shape TEXT, count INTEGER, first_seen REAL, last_seen REAL, PRIMARY KEY (feature, signature));
CREATE TABLE IF NOT EXISTS record_rules (feature TEXT, rule TEXT, matched INTEGER, checked INTEGER,
  PRIMARY KEY (feature, rule));
CREATE TABLE IF NOT EXISTS record_meta (name TEXT PRIMARY KEY, value TEXT);
"""
# recordings, record_cases, record_rules, record_meta: recorded traffic (proxy/record/storage.py, issue 22)


# dry_run_targets.state (proxy/shadow/safety.py decides; reports, status and the dashboard say UNSAFE_TEXT)
TARGET_PROVEN, TARGET_UNSAFE = "proven", "unsafe"
UNSAFE_TEXT = "target ignores dry-run — writes not shadowed"


def default_store_path() -> Path:
    from proxy.env import var_dir

    return var_dir() / "parity.db"


@dataclass(frozen=True, slots=True)
class FieldStats:
    feature: str
    route: str
    field: str
    counts: FieldCounts
    verdict: Verdict
    examples: int
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {"feature": self.feature, "route": self.route, "field": self.field, "compared": c.compared,
                "raw": c.raw, "noise_samples": c.noise_samples, "noise": c.noise, "raw_rate": c.raw_rate,
                "noise_rate": c.noise_rate, "verdict": self.verdict.value, "examples": self.examples,
                **_seen(self.first_seen, self.last_seen)}


@dataclass(frozen=True, slots=True)
class RouteStats:
    feature: str
    route: str
    compared: int
    noise_samples: int
    errors: int
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        return {"feature": self.feature, "route": self.route, "compared": self.compared,
                "noise_samples": self.noise_samples, "errors": self.errors, **_seen(self.first_seen, self.last_seen)}


@dataclass(frozen=True, slots=True)
class WindowStats:
    """The last `samples` exchanges of a feature: what auto-rollback compares with RollbackConfig."""

    samples: int
    mismatches: int
    errors: int
    p95_ms: float | None

    @property
    def diff_rate(self) -> float:
        ok = self.samples - self.errors
        return self.mismatches / ok if ok else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.samples if self.samples else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"samples": self.samples, "mismatches": self.mismatches, "errors": self.errors,
                "diff_rate": self.diff_rate, "error_rate": self.error_rate, "p95_ms": self.p95_ms}


@dataclass(frozen=True, slots=True)
class Sample:
    """One recent exchange as stored: `detail` holds what proxy/parity/recent.py re-evaluates (cause facts,
    differing / ignored / noise fields, normalised pairs, request header names — never values)."""

    feature: str
    route: str
    ts: float
    error: bool
    latency_ms: float | None
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Example:
    id: int
    feature: str
    route: str
    field: str
    ts: float
    difference: dict[str, Any]
    request: dict[str, Any]
    reference: dict[str, Any] | None
    candidate: dict[str, Any] | None
    reference_url: str
    candidate_url: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "feature": self.feature, "route": self.route, "field": self.field,
                "ts": stamp(self.ts), "difference": self.difference, "request": self.request,
                "reference": self.reference, "candidate": self.candidate,
                "reference_url": self.reference_url, "candidate_url": self.candidate_url}


class ParityStore:
    """Record comparisons (cheap, thread/event-loop safe) and query them. Close (or use as a context
    manager) to flush; a daemon thread also flushes every `flush_interval` seconds.

    This class is the SQLite backend and holds everything both backends share (the queue, the writer
    thread, the batch plan, the queries); proxy/parity/pgstore.py only swaps the connections and the DDL.
    Open either with `open_store(path_or_url)` / `configured_store()`."""

    _table_prefix = ""                       # PostgreSQL shares a schema with the route table: "parity_"
    _least, _greatest = "MIN", "MAX"         # scalar min/max of two values in this SQL dialect
    _db_errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    path: Path | str                         # the SQLite file, or the PostgreSQL URL without its password

    def __init__(self, path: Path | str | None = None, *, examples_per_field: int = 5,
                 flush_interval: float = 0.5, batch_size: int = 500, max_pending: int = 20_000,
                 window_keep: int = 5_000, body_limit: int = 64 * 1024, thresholds: Thresholds = Thresholds(),
                 background: bool = True):
        self.examples_per_field, self.window_keep, self.body_limit = examples_per_field, window_keep, body_limit
        self.batch_size, self.max_pending, self.thresholds = batch_size, max_pending, thresholds
        self.dropped = 0
        self._pending: list[ComparisonResult] = []
        self._lock = threading.Lock()          # guards _pending
        self._write_lock = threading.Lock()    # one flush at a time per store
        self._wake = threading.Event()
        self._closed = False
        self._sql_cache: dict[str, str] = {}
        self._open(path)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._flush_loop, args=(flush_interval,), daemon=True,
                                            name=f"parity-store-flush {self.name}")
            self._thread.start()
            atexit.register(self.close)

    @property
    def name(self) -> str:
        return Path(self.path).name

    # ------------------------------------------------------------------------------- backend (SQLite)
    def _open(self, path: Path | str | None) -> None:
        file = Path(path) if path is not None else default_store_path()
        file.parent.mkdir(parents=True, exist_ok=True)
        self.path = file
        self._db = self._connect()
        # Schema and upgrade in one IMMEDIATE transaction: two processes opening a new file at once
        # (façade and shadow workers) must not both add the column a store from before causes lacks.
        self._db.executescript("BEGIN IMMEDIATE;\n" + SCHEMA)
        try:
            if "detail" not in {row[1] for row in self._db.execute("PRAGMA table_info(samples)")}:
                self._db.execute("ALTER TABLE samples ADD COLUMN detail TEXT")
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        db.isolation_level = "DEFERRED"
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        """A cursor inside one write transaction (committed on exit, rolled back on error)."""
        with self._db:
            yield self._db.cursor()

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(self._sql(sql), args).fetchall()
        finally:
            db.close()

    def _close_db(self) -> None:
        self._db.close()

    def _sql(self, text: str) -> str:
        """Shared SQL -> this dialect: table prefix, scalar min/max (and `?` -> `%s` in PostgreSQL)."""
        out = self._sql_cache.get(text)
        if out is None:
            out = self._sql_cache[text] = text.format(p=self._table_prefix, least=self._least,
                                                      greatest=self._greatest)
        return out

    # ------------------------------------------------------------------------------------------ writing
    def record(self, result: ComparisonResult) -> None:
        """Queue one comparison; never blocks on I/O. Dropped (and counted) when the queue is full."""
        with self._lock:
            if len(self._pending) >= self.max_pending:
                self.dropped += 1
                return
            self._pending.append(result)
            full = len(self._pending) >= self.batch_size
        if full:
            self._wake.set()

    def flush(self) -> int:
        """Write everything queued so far in one transaction; returns how many results were written."""
        with self._write_lock:
            with self._lock:
                batch, self._pending = self._pending, []
            if not batch:
                return 0
            try:
                with self._transaction() as cur:
                    self._apply(cur, _Plan.of(batch, self))
            except self._db_errors:
                with self._lock:  # keep the batch for the next flush, within the same bound as record()
                    room = max(0, self.max_pending - len(self._pending))
                    self.dropped += max(0, len(batch) - room)
                    self._pending[:0] = batch[:room]
                raise
            return len(batch)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        try:
            self.flush()
        finally:
            with self._write_lock:
                self._close_db()
            with contextlib.suppress(Exception):
                atexit.unregister(self.close)

    def __enter__(self) -> ParityStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _flush_loop(self, interval: float) -> None:
        while not self._closed:
            self._wake.wait(interval)
            self._wake.clear()
            if self._closed:
                return
            try:
                self.flush()
            except self._db_errors:  # e.g. disk full, server gone: keep the thread alive; the batch was re-queued
                time.sleep(interval)

    def _apply(self, cur: Any, plan: _Plan) -> None:
        """Write one batch, taking row locks in ONE global order (routes, then fields, each sorted) so two
        writer processes never deadlock; the field row lock also serialises the example cap per field."""
        q = self._sql
        cur.executemany(q("INSERT INTO {p}routes VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feature, route) DO "
                          "UPDATE SET compared = {p}routes.compared + excluded.compared, noise_samples = "
                          "{p}routes.noise_samples + excluded.noise_samples, errors = {p}routes.errors + "
                          "excluded.errors, first_seen = {least}({p}routes.first_seen, excluded.first_seen), "
                          "last_seen = {greatest}({p}routes.last_seen, excluded.last_seen)"),
                        [(*key, *value) for key, value in sorted(plan.routes.items())])
        if plan.fields:
            cur.executemany(q("INSERT INTO {p}fields VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feature, route, "
                              "field) DO UPDATE SET raw = {p}fields.raw + excluded.raw, noise = {p}fields.noise + "
                              "excluded.noise, first_seen = {least}({p}fields.first_seen, excluded.first_seen), "
                              "last_seen = {greatest}({p}fields.last_seen, excluded.last_seen)"),
                            [(*key, *value) for key, value in sorted(plan.fields.items())])
        for key, found in sorted(plan.examples.items()):
            have = cur.execute(q("SELECT COUNT(*) FROM {p}examples WHERE feature = ? AND route = ? AND field = ?"),
                               key).fetchone()[0]
            if have < self.examples_per_field:  # serialised only now: a field with its examples costs nothing
                cur.executemany(q("INSERT INTO {p}examples (feature, route, field, ts, difference, request, "
                                  "reference, candidate, reference_url, candidate_url) VALUES "
                                  "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
                                [self._example_row(key, d, r) for d, r in found[: self.examples_per_field - have]])
        cur.executemany(q("INSERT INTO {p}samples (feature, route, ts, error, latency_ms, fields, detail) VALUES "
                          "(?, ?, ?, ?, ?, ?, ?)"), plan.samples)
        for feature in sorted({s[0] for s in plan.samples}):
            cur.execute(q("DELETE FROM {p}samples WHERE feature = ? AND id <= (SELECT id FROM {p}samples WHERE "
                          "feature = ? ORDER BY id DESC LIMIT 1 OFFSET ?)"), (feature, feature, self.window_keep))

    def _example_row(self, key: tuple[str, str, str], diff: Difference, r: ComparisonResult) -> tuple[Any, ...]:
        return (*key, r.ts, _dump(diff.to_dict()), self._clip(r.request.to_dict()),
                self._clip(r.reference.to_dict() if r.reference else None),
                self._clip(r.candidate.to_dict() if r.candidate else None), r.reference_url, r.candidate_url)

    def _clip(self, data: dict[str, Any] | None) -> str | None:
        if data is None:
            return None
        body = data.get("body")
        if isinstance(body, str) and len(body) > self.body_limit:
            data = {**data, "body": body[: self.body_limit], "body_truncated": True}
        return _dump(data)

    # ------------------------------------------------------------------------------------------ reading
    def features(self) -> list[str]:
        return [row["feature"] for row in self._rows("SELECT DISTINCT feature FROM {p}routes ORDER BY feature")]

    def route_stats(self, feature: str | None = None) -> list[RouteStats]:
        where, args = _where(feature)
        rows = self._rows(f"SELECT * FROM {{p}}routes {where} ORDER BY feature, route", args)
        return [RouteStats(r["feature"], r["route"], r["compared"], r["noise_samples"], r["errors"],
                           r["first_seen"], r["last_seen"]) for r in rows]

    def field_stats(self, feature: str | None = None, *, thresholds: Thresholds | None = None) -> list[FieldStats]:
        """Every field that ever differed (raw or noise), with rates and its verdict."""
        where, args = _where(feature, "f.")
        rows = self._rows(f"SELECT f.*, r.compared, r.noise_samples, (SELECT COUNT(*) FROM {{p}}examples e WHERE "
                          f"e.feature = f.feature AND e.route = f.route AND e.field = f.field) AS n_examples FROM "
                          f"{{p}}fields f JOIN {{p}}routes r ON r.feature = f.feature AND r.route = f.route {where} "
                          f"ORDER BY f.feature, f.route, f.field", args)
        out = []
        for r in rows:
            counts = FieldCounts(r["compared"], r["raw"], r["noise_samples"], r["noise"])
            out.append(FieldStats(r["feature"], r["route"], r["field"], counts,
                                  verdict(counts, thresholds or self.thresholds), r["n_examples"],
                                  r["first_seen"], r["last_seen"]))
        return out

    def noise_fields(self, feature: str, *, thresholds: Thresholds | None = None) -> list[str]:
        """Fields proposed as ignore rules: differing legacy-vs-legacy and not real on any route."""
        stats = self.field_stats(feature, thresholds=thresholds)
        real = {s.field for s in stats if s.verdict is Verdict.REAL}
        return [f for f in ignore_suggestions((s.field, s.verdict) for s in stats) if f not in real]

    def window(self, feature: str, last: int = 200, *, thresholds: Thresholds | None = None) -> WindowStats:
        """Diff rate, error rate and p95 over the feature's last `last` exchanges (noise fields excluded)."""
        noisy = {(s.route, s.field) for s in self.field_stats(feature, thresholds=thresholds)
                 if s.verdict is Verdict.NOISE}
        rows = self._rows("SELECT route, error, latency_ms, fields FROM {p}samples WHERE feature = ? "
                          "ORDER BY id DESC LIMIT ?", (feature, last))
        mismatches = sum(1 for r in rows if not r["error"]
                         and any((r["route"], f) not in noisy for f in json.loads(r["fields"])))
        latencies = sorted(r["latency_ms"] for r in rows if r["latency_ms"] is not None)
        return WindowStats(len(rows), mismatches, sum(r["error"] for r in rows), _percentile(latencies, 0.95))

    def recent(self, feature: str, per_route: int) -> list[Sample]:
        """The feature's last `per_route` exchanges on each route, oldest first (what verdicts are over)."""
        rows = self._rows("SELECT * FROM (SELECT id, route, ts, error, latency_ms, detail, ROW_NUMBER() OVER "
                          "(PARTITION BY route ORDER BY id DESC) AS rn FROM {p}samples WHERE feature = ?) w "
                          "WHERE rn <= ? ORDER BY id", (feature, per_route))
        return [Sample(feature, r["route"], r["ts"], bool(r["error"]), r["latency_ms"],
                       json.loads(r["detail"]) if r["detail"] else {}) for r in rows]

    def examples(self, feature: str | None = None, field: str | None = None, limit: int = 100) -> list[Example]:
        where, args = _where(feature)
        if field is not None:
            where += (" AND" if where else "WHERE") + " field = ?"
            args = (*args, field)
        rows = self._rows(f"SELECT * FROM {{p}}examples {where} ORDER BY id LIMIT ?", (*args, limit))
        return [_example(r) for r in rows]

    def example(self, example_id: int) -> Example | None:
        rows = self._rows("SELECT * FROM {p}examples WHERE id = ?", (example_id,))
        return _example(rows[0]) if rows else None

    def mark_target(self, upstream: str, state: str, *, feature: str, url: str, reason: str,
                    first_answer_at: float | None = None) -> bool:
        """Record a dry-run target's state now (not batched); True when it changed — the one caller that
        changed it writes the ledger, however many workers saw the same answer."""
        now = time.time()
        q = self._sql
        with self._write_lock, self._transaction() as cur:
            cur.execute(q("INSERT INTO {p}dry_run_targets VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (upstream) DO "
                          "UPDATE SET state = excluded.state, feature = excluded.feature, url = excluded.url, "
                          "reason = excluded.reason, first_answer_at = excluded.first_answer_at, marked_at = "
                          "excluded.marked_at WHERE {p}dry_run_targets.state <> excluded.state"),
                        (upstream, state, feature, url, reason, first_answer_at or now, now))
            return bool(cur.rowcount > 0)

    def targets(self) -> dict[str, dict[str, Any]]:
        """Every dry-run target's recorded state, by upstream name."""
        rows = self._rows("SELECT * FROM {p}dry_run_targets ORDER BY upstream")
        return {r["upstream"]: {k: r[k] for k in ("state", "feature", "url", "reason", "first_answer_at",
                                                  "marked_at")} for r in rows}

    def reset(self, feature: str | None = None) -> None:
        """Forget everything (or one feature), e.g. after fixing a service and starting a new shadow phase."""
        self.flush()
        where, args = _where(feature)
        with self._write_lock, self._transaction() as cur:
            for table in ("routes", "fields", "examples", "samples"):
                cur.execute(self._sql(f"DELETE FROM {{p}}{table} {where}"), args)


@dataclass(slots=True)
class _Plan:
    """One batch folded into per-key rows: counters summed and first/last seen, so a flush does one upsert
    per (feature, route[, field]) instead of one per comparison."""

    routes: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    fields: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)
    examples: dict[tuple[str, str, str], list[tuple[Difference, ComparisonResult]]] = field(default_factory=dict)
    samples: list[tuple[Any, ...]] = field(default_factory=list)

    @classmethod
    def of(cls, batch: list[ComparisonResult], store: ParityStore) -> _Plan:
        plan = cls()
        for r in batch:
            error = int(r.is_error)
            sampled = 1 if (r.noise is not None and not error) else 0
            _add(plan.routes, (r.feature, r.route), (1 - error, sampled, error), r.ts)
            if error:
                plan.samples.append((r.feature, r.route, r.ts, 1, r.latency_ms, "[]", _detail(r)))
                continue
            raw = {d.field: d for d in r.differences}
            noise = r.noise_fields() if r.noise is not None else set()
            for name in raw.keys() | noise:
                _add(plan.fields, (r.feature, r.route, name), (int(name in raw), int(name in noise)), r.ts)
            for name, diff in raw.items():
                if name in noise:
                    continue  # legacy disagreed with itself on this request: not an example of a real mismatch
                found = plan.examples.setdefault((r.feature, r.route, name), [])
                if len(found) < store.examples_per_field:
                    found.append((diff, r))
            plan.samples.append((r.feature, r.route, r.ts, 0, r.latency_ms, _dump_plain(sorted(raw.keys() - noise)),
                                 _detail(r)))
        return plan


def _detail(r: ComparisonResult) -> str:
    """What a report needs to re-evaluate this exchange under other rules (field keys, never values)."""
    cause, ref, cand = r.classified(), r.reference, r.candidate
    def names(diffs: Iterable[Difference]) -> list[str]:
        return sorted({d.field for d in diffs})

    return _dump_plain({"cause": cause.cause.value, "label": cause.label,
                  "status": [ref.status if ref else None, cand.status if cand else None],
                  "type": [ref.header("content-type") if ref else None, cand.header("content-type") if cand else None],
                  "fields": names(r.differences), "ignored": names(r.ignored),
                  "noise": names([*(r.noise or ()), *r.noise_ignored]) if r.noise is not None else None,
                  "normalised": {d.field: d.rule for d in r.normalised}, "rules_matched": sorted(r.rules_matched),
                  "headers": header_names(r.request.headers), "error": r.error,
                  "source": getattr(r, "source", "shadow")})  # "replay": proxy/record/replay.py


def _add(into: dict[Any, list[Any]], key: tuple[str, ...], counts: tuple[int, ...], ts: float) -> None:
    row = into.get(key)
    if row is None:
        into[key] = [*counts, ts, ts]
        return
    for i, n in enumerate(counts):
        row[i] += n
    row[-2], row[-1] = min(row[-2], ts), max(row[-1], ts)


# ------------------------------------------------------------------------------ choosing the store
PARITY_ENV = "STRANGLER_PARITY_STORE"


def parity_location(explicit: str | Path | None = None, *, shared: str | None = None) -> str | Path:
    """Where comparisons go: `explicit` (an option: a file or a PostgreSQL URL), else $STRANGLER_PARITY_STORE,
    else the shared store (`shared`: the façade's resolved `strangler_store`, "" for none; None: read
    $STRANGLER_STORE_URL — ONE setting moves the route table, the ledger AND the parity counts), else
    var/parity.db."""
    from proxy.stores import shared_url

    for raw in (explicit, os.environ.get(PARITY_ENV)):
        if raw is not None and str(raw).strip():
            return raw.strip() if isinstance(raw, str) else raw
    url = shared_url() if shared is None else shared
    return url or default_store_path()


def open_store(target: str | Path | None = None, **options: Any) -> ParityStore:
    """The SQLite store for a path (None: var/parity.db), the PostgreSQL one for a postgresql+psycopg:// URL."""
    from proxy.shared_store import is_store_url

    if isinstance(target, str) and is_store_url(target):
        from proxy.parity.pgstore import PgParityStore

        return PgParityStore(target, **options)
    return ParityStore(target, **options)


def configured_store(explicit: str | Path | None = None, **options: Any) -> ParityStore:
    """open_store(parity_location(explicit)): what the shadow worker, the comparator and the CLI open."""
    return open_store(parity_location(explicit), **options)


def _where(feature: str | None, prefix: str = "") -> tuple[str, tuple[Any, ...]]:
    return (f"WHERE {prefix}feature = ?", (feature,)) if feature is not None else ("", ())


def _example(r: Any) -> Example:
    def load(text: str | None) -> Any:
        return json.loads(text) if text else None

    return Example(r["id"], r["feature"], r["route"], r["field"], r["ts"], load(r["difference"]),
                   load(r["request"]), load(r["reference"]), load(r["candidate"]), r["reference_url"] or "",
                   r["candidate_url"] or "")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _dump_plain(value: Any) -> str:
    """_dump of names, numbers and labels (a sample's detail: one per comparison) with orjson, several times
    faster; what orjson refuses (a lone surrogate from a header) json writes. Never for values from a body: orjson
    writes NaN as null."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _dump(value)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (what a reader expects: p95 of 20 samples is the 19th)."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _seen(first: float | None, last: float | None) -> dict[str, str | None]:
    """When a key was first and last compared, as clock.stamp text (None: never)."""
    return {"first_seen": None if first is None else stamp(first), "last_seen": None if last is None else stamp(last)}
