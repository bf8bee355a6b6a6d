"""The history in SQLite (the default: history.db next to the parity store) and the SQL both backends share.

Why this shape: the PostgreSQL backend (proxy/history/pg.py) uses the same statements; only the connection,
the DDL types, the placeholder and the scalar max differ. Writes come from the façade's recorder thread (one
small transaction per 10 s); reads (the dashboard) open their own short connection so they never wait behind
a write (WAL). Several façades on one file add to the same rows (an additive upsert, busy timeout).
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from proxy.history import COARSE_S, COUNTS, KEEP_S, Bucket, Point


def ddl(table: str, integer: str, real: str, suffix: str = "") -> list[str]:
    """One table, keyed so that a feature's range is one contiguous index range (the dashboard's read) and the
    prune is one range per feature; no second index (the planner would pick it for wide ranges)."""
    columns = ", ".join(f"{c} {integer} NOT NULL DEFAULT 0" for c in COUNTS)
    return [f"CREATE TABLE IF NOT EXISTS {table} (res {integer} NOT NULL, feature text NOT NULL, "
            f"ts {integer} NOT NULL, side text NOT NULL, {columns}, canary {real}, "
            f"PRIMARY KEY (res, feature, ts, side)){suffix}"]


class SqlHistory:
    """The statements of both backends; subclasses give `_transaction`, `_rows` and the dialect bits."""

    table = "history"
    _greatest = "MAX"
    _mark = "?"
    name: str

    def _transaction(self) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def _rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    # ------------------------------------------------------------------------------------------- write
    def _upsert(self) -> str:
        t, m = self.table, self._mark
        cols = ("res", "feature", "side", "ts", *COUNTS, "canary")
        adds = ", ".join(f"{c} = {t}.{c} + excluded.{c}" for c in COUNTS)
        return (f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({', '.join([m] * len(cols))}) "
                f"ON CONFLICT (res, feature, ts, side) DO UPDATE SET {adds}, "
                f"canary = COALESCE({self._greatest}({t}.canary, excluded.canary), {t}.canary, excluded.canary)")

    def write(self, buckets: Sequence[Bucket]) -> None:
        rows = [(res, b.feature, b.side, b.ts - b.ts % res, *b.counts(), b.canary)
                for b in buckets for res in KEEP_S]
        self._write(rows)

    def write_rows(self, res: int, buckets: Sequence[Bucket]) -> None:
        self._write([(res, b.feature, b.side, b.ts - b.ts % res, *b.counts(), b.canary) for b in buckets])

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        # one key order (the primary key's) for every writer: no lock-order deadlock in PostgreSQL
        rows.sort(key=lambda r: (r[0], r[1], r[3], r[2]))
        with self._transaction() as cur:
            cur.executemany(self._upsert(), rows)

    def prune(self, now: float) -> int:
        gone = 0
        features = self.features()
        with self._transaction() as cur:
            for res, keep in KEEP_S.items():
                for feature in features:  # one index range each
                    cur.execute(f"DELETE FROM {self.table} WHERE res = {self._mark} AND feature = {self._mark} "
                                f"AND ts < {self._mark}", (res, feature, int(now) - keep))
                    gone += max(cur.rowcount, 0)
        return gone

    # -------------------------------------------------------------------------------------------- read
    def points(self, feature: str, *, res: int, since: int, until: int, step: int) -> list[Point]:
        """The rows as stored, in key order (no GROUP BY: SQLite's per-row aggregate calls cost more than the
        read); with a step wider than the resolution, rows of one step are added here."""
        m = self._mark
        sql = (f"SELECT side, ts, {', '.join(COUNTS)}, canary FROM {self.table} "
               f"WHERE res = {m} AND feature = {m} AND ts >= {m} AND ts < {m} ORDER BY ts, side")
        rows = self._rows(sql, (int(res), feature, int(since), int(until)))
        if step <= res:
            return [Point(r[0], r[1], r[2:-1], r[-1]) for r in rows]
        merged: dict[tuple[str, int], Point] = {}
        for r in rows:
            key = (r[0], r[1] - r[1] % step)
            got = merged.get(key)
            if got is None:
                merged[key] = Point(key[0], key[1], r[2:-1], r[-1])
            else:
                got.counts = tuple(a + b for a, b in zip(got.counts, r[2:-1], strict=True))
                if r[-1] is not None and (got.canary is None or r[-1] > got.canary):
                    got.canary = r[-1]
        return sorted(merged.values(), key=lambda p: (p.ts, p.side))

    def features(self) -> list[str]:
        """A skip scan of the primary key (one index probe per feature), not a read of every row: DISTINCT
        would read all of 7 days' rows on each dashboard poll."""
        t, m = self.table, self._mark
        sql = (f"WITH RECURSIVE f(name) AS (SELECT MIN(feature) FROM {t} WHERE res = {m} UNION ALL "
               f"SELECT (SELECT MIN(feature) FROM {t} WHERE res = {m} AND feature > f.name) FROM f "
               "WHERE f.name IS NOT NULL) SELECT name FROM f WHERE name IS NOT NULL")
        return [r[0] for r in self._rows(sql, (COARSE_S, COARSE_S))]

    def count(self) -> int:
        """Rows held (tests and the benchmark check the bound)."""
        return int(self._rows(f"SELECT COUNT(*) FROM {self.table}", ())[0][0])


class SqliteHistory(SqlHistory):
    """The default backend: one SQLite file (WAL)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.name = path, str(path)
        self._lock, self._read_lock = threading.Lock(), threading.Lock()
        self._reader: sqlite3.Connection | None = None
        self._db = self._connect()
        for stmt in ddl(self.table, "INTEGER", "REAL", " WITHOUT ROWID"):
            self._db.execute(stmt)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Cursor]:
        with self._lock:
            cur = self._db.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        """On a reader connection of its own (WAL: a read never waits for the recorder's write)."""
        with self._read_lock:
            if self._reader is None:
                self._reader = self._connect()
            return self._reader.execute(sql, tuple(args)).fetchall()

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._db.close()
            if self._reader is not None:
                self._reader.close()
                self._reader = None
