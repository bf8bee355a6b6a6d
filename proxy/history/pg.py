"""The history in the shared PostgreSQL store (STRANGLER_STORE_URL): table `history_buckets` in the same schema
as the route table, the ledger and the parity counts, so every façade on that URL adds to ONE history.

Why this shape: the statements are proxy/history/sql.py's; this swaps the connection (one for writes, one for
reads, each reconnected once after a lost connection) and the DDL, which runs under an advisory lock because
two façades starting together would race on CREATE TABLE IF NOT EXISTS.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg

from proxy.history.sql import SqlHistory, ddl
from proxy.shared_store import store_for

_DDL_LOCK = 0x5A7A_9A72


class PgHistory(SqlHistory):
    table = "history_buckets"
    _greatest = "GREATEST"
    _mark = "%s"

    def __init__(self, url: str):
        self.shared = store_for(url)
        self.name = str(self.shared)  # never the password
        self._conns: dict[str, psycopg.Connection[Any] | None] = {"write": None, "read": None}
        self._locks = {"write": threading.Lock(), "read": threading.Lock()}
        with contextlib.closing(self.shared.connect(autocommit=True)) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.shared.schema}"')
            conn.execute(f'SET LOCAL search_path TO "{self.shared.schema}"')
            for stmt in ddl(self.table, "bigint", "double precision"):
                conn.execute(stmt)

    def _with[T](self, role: str, work: Callable[[psycopg.Connection[Any]], T]) -> T:
        with self._locks[role]:
            for attempt in (1, 2):  # a connection lost since the last use: reconnect once
                conn = self._conns[role]
                if conn is None or conn.closed or conn.broken:
                    conn = self._conns[role] = self.shared.connect(autocommit=True)
                try:
                    return work(conn)
                except psycopg.OperationalError:
                    with contextlib.suppress(Exception):
                        conn.close()
                    self._conns[role] = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor[Any]]:
        with self._locks["write"]:
            conn = self._conns["write"]
            if conn is None or conn.closed or conn.broken:
                conn = self._conns["write"] = self.shared.connect(autocommit=True)
            try:
                with conn.transaction(), conn.cursor() as cur:
                    yield cur
            except psycopg.OperationalError:
                with contextlib.suppress(Exception):
                    conn.close()
                self._conns["write"] = None
                raise

    def _rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        def run(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
            with conn.cursor() as cur:
                return cur.execute(sql.encode(), tuple(args)).fetchall()
        return self._with("read", run)

    def close(self) -> None:
        for role in ("write", "read"):
            with self._locks[role]:
                conn, self._conns[role] = self._conns[role], None
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()

    def drop(self) -> None:
        """Remove the history table (tests; not the route table or parity tables sharing the schema)."""
        with self._transaction() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {self.table}")
