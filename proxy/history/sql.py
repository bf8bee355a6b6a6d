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

from proxy.history import COARSE_S, COUNTS, INTERVAL_S, KEEP_S, Bucket, Point


def ddl(table: str, integer: str, real: str) -> list[str]:
    columns = ", ".join(f"{c} {integer} NOT NULL DEFAULT 0" for c in COUNTS)
    return [f"CREATE TABLE IF NOT EXISTS {table} (res {integer} NOT NULL, feature text NOT NULL, "
            f"side text NOT NULL, ts {integer} NOT NULL, {columns}, canary {real}, "
            f"PRIMARY KEY (res, feature, side, ts))",
            f"CREATE INDEX IF NOT EXISTS {table}_age ON {table} (res, ts)"]


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
                f"ON CONFLICT (res, feature, side, ts) DO UPDATE SET {adds}, "
                f"canary = COALESCE({self._greatest}({t}.canary, excluded.canary), {t}.canary, excluded.canary)")

    def write(self, buckets: Sequence[Bucket]) -> None:
        rows = [(res, b.feature, b.side, b.ts - b.ts % res, *b.counts(), b.canary)
                for b in buckets for res in (INTERVAL_S, COARSE_S)]
        self._write(rows)

    def write_rows(self, res: int, buckets: Sequence[Bucket]) -> None:
        self._write([(res, b.feature, b.side, b.ts - b.ts % res, *b.counts(), b.canary) for b in buckets])

    def _write(self, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        rows.sort(key=lambda r: r[:4])  # one key order for every writer: no lock-order deadlock in PostgreSQL
        with self._transaction() as cur:
            cur.executemany(self._upsert(), rows)

    def prune(self, now: float) -> int:
        gone = 0
        with self._transaction() as cur:
            for res, keep in KEEP_S.items():
                cur.execute(f"DELETE FROM {self.table} WHERE res = {self._mark} AND ts < {self._mark}",
                            (res, int(now) - keep))
                gone += max(cur.rowcount, 0)
        return gone

    # -------------------------------------------------------------------------------------------- read
    def points(self, feature: str, *, res: int, since: int, until: int, step: int) -> list[Point]:
        m = self.table, self._mark
        sums = ", ".join(f"SUM({c})" for c in COUNTS)
        sql = (f"SELECT side, ts / {int(step)} * {int(step)} AS t, {sums}, MAX(canary) FROM {m[0]} "
               f"WHERE res = {m[1]} AND feature = {m[1]} AND ts >= {m[1]} AND ts < {m[1]} "
               f"GROUP BY side, t ORDER BY side, t")
        out = []
        for row in self._rows(sql, (int(res), feature, int(since), int(until))):
            values = {c: int(v or 0) for c, v in zip(COUNTS, row[2:-1], strict=True)}
            out.append(Point(row[0], int(row[1]), values, None if row[-1] is None else float(row[-1])))
        return out

    def features(self) -> list[str]:
        return [r[0] for r in self._rows(f"SELECT DISTINCT feature FROM {self.table} WHERE res = {self._mark} "
                                         "ORDER BY feature", (COARSE_S,))]

    def count(self) -> int:
        """Rows held (tests and the benchmark check the bound)."""
        return int(self._rows(f"SELECT COUNT(*) FROM {self.table}", ())[0][0])


class SqliteHistory(SqlHistory):
    """The default backend: one SQLite file (WAL)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.name = path, str(path)
        self._lock = threading.Lock()
        self._db = self._connect()
        for stmt in ddl(self.table, "INTEGER", "REAL"):
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
        db = sqlite3.connect(self.path, timeout=30)
        try:
            return db.execute(sql, tuple(args)).fetchall()
        finally:
            db.close()

    def close(self) -> None:
        with self._lock:
            self._db.close()
