"""The parity store: SQLite (WAL) with per feature / route / field counts, examples and a recent window.

Why this shape: `record()` runs on the façade's event loop for every shadowed request, so it only appends
to an in-memory batch (microseconds, never blocks, bounded: overflow is dropped and counted); a background
thread flushes batches in one transaction. Several processes (façade, Locust workers, the CLI) may write
the same file: WAL, a busy timeout and additive upserts keep that safe.

Tables: routes (compared, noise samples, errors per feature+route), fields (raw and noise differences per
field), examples (up to N replayable exchanges per field; their id is the "mismatch id"), samples (the
last `window_keep` exchanges per feature: the source of diff rate / error rate / p95 for auto-rollback).
"""
from __future__ import annotations

import atexit
import contextlib
import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from proxy.parity.noise import FieldCounts, Thresholds, Verdict, ignore_suggestions, verdict
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
"""


def default_store_path() -> Path:
    from strangler.settings import get_settings

    return get_settings().var_dir / "parity.db"


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
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen)}


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
                "noise_samples": self.noise_samples, "errors": self.errors,
                "first_seen": _iso(self.first_seen), "last_seen": _iso(self.last_seen)}


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
                "ts": _iso(self.ts), "difference": self.difference, "request": self.request,
                "reference": self.reference, "candidate": self.candidate,
                "reference_url": self.reference_url, "candidate_url": self.candidate_url}


class ParityStore:
    """Record comparisons (cheap, thread/event-loop safe) and query them. Close (or use as a context
    manager) to flush; a daemon thread also flushes every `flush_interval` seconds."""

    def __init__(self, path: Path | str | None = None, *, examples_per_field: int = 5,
                 flush_interval: float = 0.5, batch_size: int = 500, max_pending: int = 20_000,
                 window_keep: int = 5_000, body_limit: int = 64 * 1024, thresholds: Thresholds = Thresholds(),
                 background: bool = True):
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.examples_per_field, self.window_keep, self.body_limit = examples_per_field, window_keep, body_limit
        self.batch_size, self.max_pending, self.thresholds = batch_size, max_pending, thresholds
        self.dropped = 0
        self._pending: list[ComparisonResult] = []
        self._lock = threading.Lock()          # guards _pending
        self._write_lock = threading.Lock()    # one flush at a time per store
        self._wake = threading.Event()
        self._closed = False
        self._db = self._connect()
        self._db.executescript(SCHEMA)
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._flush_loop, args=(flush_interval,), daemon=True,
                                            name=f"parity-store-flush {self.path.name}")
            self._thread.start()
            atexit.register(self.close)

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
                with self._db:
                    for result in batch:
                        self._write(result)
                    for feature in {r.feature for r in batch}:
                        self._db.execute(
                            "DELETE FROM samples WHERE feature = ? AND id <= (SELECT id FROM samples WHERE "
                            "feature = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", (feature, feature, self.window_keep))
            except sqlite3.Error:
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
        self.flush()
        with self._write_lock:
            self._db.close()
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
            except sqlite3.Error:  # e.g. disk full: keep the thread alive; the batch was re-queued (bounded)
                time.sleep(interval)

    def _write(self, r: ComparisonResult) -> None:
        db, ts, error = self._db, r.ts, int(r.is_error)
        compared = 0 if error else 1
        sampled = 1 if (r.noise is not None and not error) else 0
        db.execute("INSERT INTO routes VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feature, route) DO UPDATE SET "
                   "compared = compared + excluded.compared, noise_samples = noise_samples + excluded.noise_samples,"
                   " errors = errors + excluded.errors, first_seen = MIN(first_seen, excluded.first_seen), "
                   "last_seen = MAX(last_seen, excluded.last_seen)",
                   (r.feature, r.route, compared, sampled, error, ts, ts))
        if error:
            self._sample(r, [])
            return
        raw = {d.field: d for d in r.differences}
        noise = r.noise_fields() if r.noise is not None else set()
        for name in raw.keys() | noise:
            db.execute("INSERT INTO fields VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feature, route, field) DO "
                       "UPDATE SET raw = raw + excluded.raw, noise = noise + excluded.noise, "
                       "first_seen = MIN(first_seen, excluded.first_seen), "
                       "last_seen = MAX(last_seen, excluded.last_seen)",
                       (r.feature, r.route, name, int(name in raw), int(name in noise), ts, ts))
        for name, diff in raw.items():
            if name in noise:
                continue  # legacy disagreed with itself on this request: not an example of a real mismatch
            db.execute("INSERT INTO examples (feature, route, field, ts, difference, request, reference, candidate,"
                       " reference_url, candidate_url) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE (SELECT COUNT(*) "
                       "FROM examples WHERE feature = ? AND route = ? AND field = ?) < ?",
                       (r.feature, r.route, name, ts, _dump(diff.to_dict()), self._clip(r.request.to_dict()),
                        self._clip(r.reference.to_dict() if r.reference else None),
                        self._clip(r.candidate.to_dict() if r.candidate else None), r.reference_url,
                        r.candidate_url, r.feature, r.route, name, self.examples_per_field))
        self._sample(r, sorted(raw.keys() - noise))

    def _sample(self, r: ComparisonResult, real_fields: list[str]) -> None:
        self._db.execute("INSERT INTO samples (feature, route, ts, error, latency_ms, fields) VALUES (?, ?, ?, ?, ?, ?)",
                         (r.feature, r.route, r.ts, int(r.is_error), r.latency_ms, _dump(real_fields)))

    def _clip(self, data: dict[str, Any] | None) -> str | None:
        if data is None:
            return None
        body = data.get("body")
        if isinstance(body, str) and len(body) > self.body_limit:
            data = {**data, "body": body[: self.body_limit], "body_truncated": True}
        return _dump(data)

    # ------------------------------------------------------------------------------------------ reading
    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        db.isolation_level = "DEFERRED"
        return db

    @contextlib.contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            yield db
        finally:
            db.close()

    def features(self) -> list[str]:
        with self._reader() as db:
            return [row[0] for row in db.execute("SELECT DISTINCT feature FROM routes ORDER BY feature")]

    def route_stats(self, feature: str | None = None) -> list[RouteStats]:
        where, args = _where(feature)
        with self._reader() as db:
            rows = db.execute(f"SELECT * FROM routes {where} ORDER BY feature, route", args).fetchall()
        return [RouteStats(r["feature"], r["route"], r["compared"], r["noise_samples"], r["errors"],
                           r["first_seen"], r["last_seen"]) for r in rows]

    def field_stats(self, feature: str | None = None, *, thresholds: Thresholds | None = None) -> list[FieldStats]:
        """Every field that ever differed (raw or noise), with rates and its verdict."""
        where, args = _where(feature, "f.")
        query = (f"SELECT f.*, r.compared, r.noise_samples, (SELECT COUNT(*) FROM examples e WHERE e.feature = "
                 f"f.feature AND e.route = f.route AND e.field = f.field) AS n_examples FROM fields f JOIN routes r "
                 f"ON r.feature = f.feature AND r.route = f.route {where} ORDER BY f.feature, f.route, f.field")
        with self._reader() as db:
            rows = db.execute(query, args).fetchall()
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
        with self._reader() as db:
            rows = db.execute("SELECT route, error, latency_ms, fields FROM samples WHERE feature = ? "
                              "ORDER BY id DESC LIMIT ?", (feature, last)).fetchall()
        mismatches = sum(1 for r in rows if not r["error"]
                         and any((r["route"], f) not in noisy for f in json.loads(r["fields"])))
        latencies = sorted(r["latency_ms"] for r in rows if r["latency_ms"] is not None)
        return WindowStats(len(rows), mismatches, sum(r["error"] for r in rows), _percentile(latencies, 0.95))

    def examples(self, feature: str | None = None, field: str | None = None, limit: int = 100) -> list[Example]:
        where, args = _where(feature)
        if field is not None:
            where += (" AND" if where else "WHERE") + " field = ?"
            args = (*args, field)
        with self._reader() as db:
            rows = db.execute(f"SELECT * FROM examples {where} ORDER BY id LIMIT ?", (*args, limit)).fetchall()
        return [_example(r) for r in rows]

    def example(self, example_id: int) -> Example | None:
        with self._reader() as db:
            row = db.execute("SELECT * FROM examples WHERE id = ?", (example_id,)).fetchone()
        return _example(row) if row else None

    def reset(self, feature: str | None = None) -> None:
        """Forget everything (or one feature), e.g. after fixing a service and starting a new shadow phase."""
        self.flush()
        where, args = _where(feature)
        with self._write_lock, self._db:
            for table in ("routes", "fields", "examples", "samples"):
                self._db.execute(f"DELETE FROM {table} {where}", args)


def _where(feature: str | None, prefix: str = "") -> tuple[str, tuple]:
    return (f"WHERE {prefix}feature = ?", (feature,)) if feature is not None else ("", ())


def _example(r: sqlite3.Row) -> Example:
    load = lambda text: json.loads(text) if text else None
    return Example(r["id"], r["feature"], r["route"], r["field"], r["ts"], load(r["difference"]),
                   load(r["request"]), load(r["reference"]), load(r["candidate"]), r["reference_url"] or "",
                   r["candidate_url"] or "")


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (what a reader expects: p95 of 20 samples is the 19th)."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
