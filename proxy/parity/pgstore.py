"""The parity store in PostgreSQL: the same API and SQL as the SQLite store (proxy/parity/store.py), in the
shared store's schema (proxy/shared_store.py), so every façade, shadow worker and nginx comparator
configured with the same STRANGLER_STORE_URL adds to ONE set of counts that `strangler parity report` reads.

Why this shape: only the connections and the DDL differ. Tables are prefixed `parity_` because the schema
also holds the route table and the ledger. The writer thread keeps one connection (reconnected after a
failure; the batch is re-queued within the same bound); reads use a second one, so a report never waits
behind a flush. DDL runs under an advisory lock: two processes starting at once would otherwise race on
CREATE TABLE IF NOT EXISTS.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg.rows import dict_row

from proxy.parity.store import ParityStore
from proxy.shared_store import SharedStore, StoreError, store_for

DDL = """
CREATE TABLE IF NOT EXISTS parity_routes (feature text, route text, compared bigint, noise_samples bigint,
  errors bigint, first_seen double precision, last_seen double precision, PRIMARY KEY (feature, route));
CREATE TABLE IF NOT EXISTS parity_fields (feature text, route text, field text, raw bigint, noise bigint,
  first_seen double precision, last_seen double precision, PRIMARY KEY (feature, route, field));
CREATE TABLE IF NOT EXISTS parity_examples (id bigserial PRIMARY KEY, feature text, route text, field text,
  ts double precision, difference text, request text, reference text, candidate text, reference_url text,
  candidate_url text);
CREATE INDEX IF NOT EXISTS parity_examples_field ON parity_examples (feature, route, field);
CREATE TABLE IF NOT EXISTS parity_samples (id bigserial PRIMARY KEY, feature text, route text,
  ts double precision, error integer, latency_ms double precision, fields text);
CREATE INDEX IF NOT EXISTS parity_samples_feature ON parity_samples (feature, id);
ALTER TABLE parity_samples ADD COLUMN IF NOT EXISTS detail text;
CREATE INDEX IF NOT EXISTS parity_samples_route ON parity_samples (feature, route, id);
CREATE TABLE IF NOT EXISTS parity_dry_run_targets (upstream text PRIMARY KEY, state text, feature text, url text,
  reason text, first_answer_at double precision, marked_at double precision);
CREATE TABLE IF NOT EXISTS parity_recordings (id bigserial PRIMARY KEY, feature text, route text, signature text,
  ts double precision, method text, path text, status integer, latency_ms double precision, truncated integer,
  size bigint, request text, response text);
CREATE INDEX IF NOT EXISTS parity_recordings_feature ON parity_recordings (feature, id);
CREATE INDEX IF NOT EXISTS parity_recordings_signature ON parity_recordings (feature, signature, id);
CREATE TABLE IF NOT EXISTS parity_record_cases (feature text, signature text, method text, route text,
  query_keys text, body_shape text, count bigint, first_seen double precision, last_seen double precision,
  PRIMARY KEY (feature, signature));
CREATE TABLE IF NOT EXISTS parity_record_rules (feature text, rule text, matched bigint, checked bigint,
  PRIMARY KEY (feature, rule));
CREATE TABLE IF NOT EXISTS parity_record_meta (name text PRIMARY KEY, value text);
"""
_DDL_LOCK = 0x5A7A_9A71  # advisory lock key: one DDL run at a time per database


class PgParityStore(ParityStore):
    """ParityStore on PostgreSQL; open it with proxy.parity.store.open_store(url)."""

    _table_prefix = "parity_"
    _least, _greatest = "LEAST", "GREATEST"
    _db_errors = (psycopg.Error, StoreError)

    def _open(self, url: Any) -> None:
        self.shared: SharedStore = store_for(str(url))
        self.path = str(self.shared)  # what reports show: never the password
        self._conn: psycopg.Connection | None = None
        self._reader: psycopg.Connection | None = None
        self._read_lock = threading.Lock()
        with contextlib.closing(self.shared.connect(autocommit=True)) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK,))  # before CREATE SCHEMA: it races too
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.shared.schema}"')
            for stmt in filter(str.strip, DDL.split(";")):
                conn.execute(stmt)

    @property
    def name(self) -> str:
        return self.shared.schema

    def _sql(self, text: str) -> str:
        out = self._sql_cache.get(text)
        if out is None:
            out = self._sql_cache[text] = super()._sql(text).replace("?", "%s")
        return out

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self.shared.connect(autocommit=True)
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                yield cur
        except psycopg.OperationalError:
            self._drop(self._conn)
            self._conn = None
            raise

    def _rows(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._read_lock:
            for attempt in (1, 2):  # a connection lost since the last read: reconnect once
                if self._reader is None or self._reader.closed or self._reader.broken:
                    self._reader = self.shared.connect(autocommit=True)
                try:
                    with self._reader.cursor(row_factory=dict_row) as cur:
                        return cur.execute(self._sql(sql), args).fetchall()
                except psycopg.OperationalError:
                    self._drop(self._reader)
                    self._reader = None
                    if attempt == 2:
                        raise
        raise AssertionError("unreachable")

    def _close_db(self) -> None:
        for conn in (self._conn, self._reader):
            self._drop(conn)
        self._conn = self._reader = None

    @staticmethod
    def _drop(conn: psycopg.Connection | None) -> None:
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def drop_tables(self) -> None:
        """Remove the parity tables (not the route table or ledger sharing the schema)."""
        with self._write_lock, self._transaction() as cur:
            for table in ("samples", "examples", "fields", "routes", "dry_run_targets", "recordings", "record_cases",
                          "record_rules", "record_meta"):
                cur.execute(f"DROP TABLE IF EXISTS parity_{table}")
